"""GET/PATCH /v1/webhook and POST /v1/webhook/test (the same on /v2)."""

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from app.api.envelope import ERRORS, Envelope, ok
from app.deps import PrincipalDep, SessionDep, runtime
from app.webhooks import sender, service

router = APIRouter(tags=["webhook"], responses=ERRORS)


class WebhookRead(BaseModel):
    webhook_url: str | None
    webhook_secret: str | None
    webhook_disabled_at: str | None
    webhook_disabled_reason: str | None
    webhook_consecutive_failures: int


class WebhookUpdate(BaseModel):
    webhook_url: str | None = None
    webhook_secret: str | None = None


class WebhookTestResult(BaseModel):
    status_code: int


@router.get("/webhook", responses={200: {"model": Envelope[WebhookRead]}})
async def get_webhook(principal: PrincipalDep, session: SessionDep) -> Response:
    """The caller's webhook settings."""
    return ok(await service.get_config(session, principal.account_id))


@router.patch("/webhook", responses={200: {"model": Envelope[WebhookRead]}})
async def update_webhook(
    body: WebhookUpdate, request: Request, principal: PrincipalDep, session: SessionDep
) -> Response:
    """Change the webhook URL and/or secret; re-enables delivery."""
    settings = runtime(request).settings
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return ok(await service.update_config(session, principal.account_id, changes, settings))


@router.post("/webhook/test", responses={200: {"model": Envelope[WebhookTestResult]}})
async def test_webhook(request: Request, principal: PrincipalDep) -> Response:
    """Send a webhook.test event and report the status the endpoint answered."""
    async with sender.make_client() as client:
        result = await service.send_test(
            runtime(request).sessionmaker, client, principal.account_id,
            runtime(request).settings,
        )  # fmt: skip
    return ok(result)
