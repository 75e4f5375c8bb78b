"""The OpenAPI document's response models say exactly what the handlers return."""

from pydantic import BaseModel

from app.orders.schemas import (
    ActiveOrderRead,
    CancelRead,
    CreatedOrderRead,
    FinishRead,
    OrderRead,
    ReactivateOptionsRead,
    ResendRead,
)
from tests.orders_api.support import create_one, post, to_otp


def same_shape(model: type[BaseModel], data: dict) -> None:
    assert set(data) == set(model.model_fields), set(data) ^ set(model.model_fields)
    model.model_validate(data)


async def test_documented_models_match_responses(client, user, catalog, clock, poller, no_sms):
    created = await create_one(client, user, {"product_id": catalog.tiers[0].id})
    same_shape(CreatedOrderRead, created)
    got = (await client.get(f"/v1/orders/{created['id']}", headers=user.headers)).json()
    same_shape(OrderRead, got["data"])
    active = (await client.get("/v1/orders/active", headers=user.headers)).json()
    same_shape(ActiveOrderRead, active["data"][0])
    clock.advance(121)
    canceled = await post(client, user, "cancel", {"id": created["id"]})
    same_shape(CancelRead, canceled.json()["data"])


async def test_documented_models_after_an_sms(client, user, catalog, clock, poller):
    created = await create_one(client, user, {"product_id": catalog.tiers[0].id})
    await to_otp(client, user, clock, poller, created["id"])
    resent = await post(client, user, "resend", {"id": created["id"]})
    same_shape(ResendRead, resent.json()["data"])
    finished = await post(client, user, "finish", {"id": created["id"]})
    same_shape(FinishRead, finished.json()["data"])
    options = await client.get(
        f"/v1/orders/{created['id']}/reactivate-options", headers=user.headers
    )
    same_shape(ReactivateOptionsRead, options.json()["data"])
