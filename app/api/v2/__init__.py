"""/v2: every /v1 endpoint, money as USD objects with `meta.fx`; the same services."""

from fastapi import APIRouter

from app.api.rate_limits import RateLimited
from app.api.v1 import webhook
from app.api.v2 import balance, catalog, orders

router = APIRouter(prefix="/v2", dependencies=[RateLimited])
router.include_router(catalog.router)
router.include_router(balance.router)
router.include_router(orders.router)
router.add_api_route("/webhook", webhook.get_webhook, methods=["GET"], tags=["v2 webhook"],
                     name="v2_get_webhook")  # fmt: skip
router.add_api_route("/webhook", webhook.update_webhook, methods=["PATCH"], tags=["v2 webhook"],
                     name="v2_update_webhook")  # fmt: skip
router.add_api_route("/webhook/test", webhook.test_webhook, methods=["POST"],
                     tags=["v2 webhook"], name="v2_test_webhook")  # fmt: skip
