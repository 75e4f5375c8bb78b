from fastapi import APIRouter

from app.api import admin, ops, v1, v2

router = APIRouter()
router.include_router(v1.router)
router.include_router(v2.router)
router.include_router(admin.router)
router.include_router(ops.router)
