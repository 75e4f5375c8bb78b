"""GET /v1/webhook (changing it and delivering events arrive with the webhooks work)."""

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from app.api.envelope import ERRORS, Envelope, ok
from app.deps import PrincipalDep, SessionDep
from app.webhooks import service

router = APIRouter(tags=["webhook"], responses=ERRORS)


class WebhookRead(BaseModel):
    webhook_url: str | None
    webhook_secret: str | None
    webhook_disabled_at: str | None
    webhook_disabled_reason: str | None
    webhook_consecutive_failures: int


@router.get("/webhook", responses={200: {"model": Envelope[WebhookRead]}})
async def get_webhook(principal: PrincipalDep, session: SessionDep) -> Response:
    """The caller's webhook settings."""
    return ok(await service.get_config(session, principal.account_id))
