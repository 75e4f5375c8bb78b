from fastapi import APIRouter

from app.api.rate_limits import RateLimited
from app.api.v1 import balance, catalog, orders, webhook

router = APIRouter(prefix="/v1", dependencies=[RateLimited])
router.include_router(catalog.router)
router.include_router(balance.router)
router.include_router(orders.router)
router.include_router(webhook.router)
