"""The dispatcher against real receivers on loopback: a full order lifecycle, failures and
auto-disable, replays, accounts without a URL, rolled-back transitions."""

import dataclasses
import json

import pytest
from pydantic import SecretStr
from smscode import verify_webhook_signature
from sqlalchemy import select, text

from app.events.models import Event
from app.kit.clock import rfc3339
from app.webhooks.models import WebhookConfig
from tests.orders_api.support import EVENT_DATA_KEYS, create_one, load_catalog, post, to_otp
from tests.webhooks.support import (
    account_with_order,
    add_events,
    attempts,
    drain,
    queued,
    set_url,
)


async def test_a_full_lifecycle_arrives_as_api_md_says(
    client, factory, sessionmaker, clock, poller, sandbox, dispatcher, allow_private, receivers,
    monkeypatch,
):  # fmt: skip
    receiver = receivers()
    await factory.sandbox_catalog()
    catalog = await load_catalog(sessionmaker)
    user = await factory.account(balance=100_000)
    secret = (await set_url(client, user, receiver.url))["webhook_secret"]

    finished = await create_one(client, user, {"product_id": catalog.economy.id})
    monkeypatch.setattr(sandbox, "settings",
                        dataclasses.replace(sandbox.settings, no_sms_rate=1.0))  # fmt: skip
    canceled = await create_one(client, user, {"product_id": catalog.economy.id})
    expired = await create_one(client, user, {"product_id": catalog.economy.id})
    await to_otp(client, user, clock, poller, finished["id"])
    assert (await post(client, user, "finish", {"id": finished["id"]})).status_code == 200
    clock.advance(121)
    assert (await post(client, user, "cancel", {"id": canceled["id"]})).status_code == 200
    clock.advance(1200)
    await poller.tick()
    await drain(dispatcher)

    async with sessionmaker() as session:
        events = (await session.execute(select(Event).order_by(Event.id))).scalars()
        expected = [(e.id, e.type, e.order_id, e.payload) for e in events]
    assert [(event, order) for _, event, order, _ in expected] == [
        ("order.otp_received", finished["id"]), ("order.completed", finished["id"]),
        ("order.canceled", canceled["id"]), ("order.expired", expired["id"]),
    ]  # fmt: skip
    assert [int(r.headers["x-webhook-event-id"]) for r in receiver.requests] == [
        e[0] for e in expected
    ]
    for got, (_, event, order_id, payload) in zip(receiver.requests, expected, strict=True):
        assert verify_webhook_signature(got.body, got.headers["x-webhook-signature"], secret)
        assert got.headers["content-type"] == "application/json"
        body = json.loads(got.body)
        assert body == payload and set(body) == {"event", "timestamp", "data"}
        assert body["event"] == event and set(body["data"]) == EVENT_DATA_KEYS
        assert body["data"]["order_id"] == order_id
        assert body["data"]["sms_revision"] == (1 if event == "order.otp_received" else None)
    assert json.loads(receiver.requests[0].body)["data"]["otp_code"]
    assert await queued(sessionmaker) == 0
    log = await attempts(sessionmaker, user.id)
    assert [(a.succeeded, a.status_code, a.is_replay) for a in log] == [(True, 200, False)] * 4


async def failing_until_disabled(client, factory, sessionmaker, clock, dispatcher, receiver):
    """Ten 500s in a row, a day or two apart as the backoff says: delivery is disabled."""
    user, order_id = await account_with_order(client, factory, sessionmaker)
    await set_url(client, user, receiver.url)
    first = await add_events(sessionmaker, user.id, order_id, 1)
    waits = []
    for n in range(1, 11):
        assert await dispatcher.tick() == 1
        async with sessionmaker() as session:
            config = await session.get(WebhookConfig, user.id)
        assert config.consecutive_failures == n
        waits.append((config.next_attempt_at - clock.now).total_seconds())
        assert await dispatcher.tick() == 0  # nothing before the backoff is over
        clock.advance(waits[-1] + 1)
    assert len(receiver.requests) == 10
    assert sum(waits[:9]) >= 86_400, waits  # the ten attempts span more than a day
    assert waits == sorted(waits[:6]) + waits[6:]  # growing, then capped
    return user, order_id, first


async def test_ten_failures_disable_patch_reenables_and_the_backlog_follows(
    client, factory, sessionmaker, clock, dispatcher, allow_private, receivers
):
    receiver = receivers(statuses=[500] * 10)
    user, order_id, first = await failing_until_disabled(
        client, factory, sessionmaker, clock, dispatcher, receiver
    )
    config = (await client.get("/v1/webhook", headers=user.headers)).json()["data"]
    assert config["webhook_disabled_reason"] == "consecutive_failed_user_endpoint"
    assert config["webhook_disabled_at"] is not None
    assert config["webhook_consecutive_failures"] == 10

    held = await add_events(sessionmaker, user.id, order_id, 3)  # accumulate, never dropped
    clock.advance(86_400 * 3)
    assert await dispatcher.tick() == 0 and len(receiver.requests) == 10
    assert await queued(sessionmaker, account_id=user.id) == 4

    secret = (await set_url(client, user, receiver.url, webhook_secret="rotated"))["webhook_secret"]
    await drain(dispatcher)
    delivered = receiver.requests[10:]
    assert [int(r.headers["x-webhook-event-id"]) for r in delivered] == first + held
    assert all(verify_webhook_signature(r.body, r.headers["x-webhook-signature"], secret)
               for r in delivered)  # fmt: skip
    config = (await client.get("/v1/webhook", headers=user.headers)).json()["data"]
    assert config["webhook_disabled_at"] is None and config["webhook_consecutive_failures"] == 0


@pytest.fixture
def admin(monkeypatch, settings) -> dict[str, str]:
    monkeypatch.setattr(settings, "admin_token", SecretStr("admin-token-for-tests"))
    return {"Authorization": "Bearer admin-token-for-tests"}


async def test_replay_delivers_the_backlog_without_counting_failures(
    client, factory, sessionmaker, clock, dispatcher, allow_private, receivers, admin
):
    receiver = receivers(statuses=[500] * 10)
    since = clock.now
    user, order_id, first = await failing_until_disabled(
        client, factory, sessionmaker, clock, dispatcher, receiver
    )
    held = await add_events(sessionmaker, user.id, order_id, 2)
    secret = (await client.get("/v1/webhook", headers=user.headers)).json()["data"][
        "webhook_secret"
    ]

    # One replay the receiver refuses: logged, but the account's counter does not move.
    receiver.statuses.append(503)
    response = await client.post(f"/admin/webhooks/events/{first[0]}/redeliver", headers=admin)
    assert response.json()["data"] == {"account_id": user.id, "queued": 1,
                                       "event_ids": first}  # fmt: skip
    assert await dispatcher.tick() == 1
    response = await client.post(
        f"/admin/webhooks/accounts/{user.id}/redeliver", json={"since": rfc3339(since)},
        headers=admin,
    )  # fmt: skip
    # The event whose replay is still waiting (retry later) is not queued twice.
    assert response.json()["data"]["event_ids"] == held
    clock.advance(86_400)
    await drain(dispatcher)

    replayed = receiver.requests[11:]
    assert sorted(int(r.headers["x-webhook-event-id"]) for r in replayed) == first + held
    assert all(verify_webhook_signature(r.body, r.headers["x-webhook-signature"], secret)
               for r in replayed)  # fmt: skip
    config = (await client.get("/v1/webhook", headers=user.headers)).json()["data"]
    assert config["webhook_consecutive_failures"] == 10 and config["webhook_disabled_at"]

    # Re-enabled: what the replays delivered is not sent again, a new event is.
    await set_url(client, user, receiver.url)
    newer = await add_events(sessionmaker, user.id, order_id, 1)
    await drain(dispatcher)
    assert [int(r.headers["x-webhook-event-id"]) for r in receiver.requests[14:]] == newer

    listed = await client.get(f"/admin/webhooks/accounts/{user.id}/deliveries?limit=5",
                              headers=admin)  # fmt: skip
    page = listed.json()
    assert len(page["data"]) == 5 and page["meta"]["next_before_id"] == page["data"][-1]["id"]
    assert page["data"][0]["event_id"] == newer[0] and page["data"][0]["succeeded"] is True
    replays = [d for d in page["data"] if d["is_replay"]]
    assert {d["event_id"] for d in replays} == set(first + held)
    rest = await client.get(
        f"/admin/webhooks/accounts/{user.id}/deliveries?limit=100"
        f"&before_id={page['meta']['next_before_id']}", headers=admin,
    )  # fmt: skip
    assert len(rest.json()["data"]) == 15 - 5 and rest.json()["meta"]["next_before_id"] is None
    assert all(d["duration_ms"] >= 0 and d["attempted_at"] for d in rest.json()["data"])


async def test_admin_replay_needs_the_admin_token(client, factory, admin):
    user = await factory.account()
    response = await client.post("/admin/webhooks/events/1/redeliver", headers=user.headers)
    assert response.status_code == 403
    response = await client.post("/admin/webhooks/events/999/redeliver", headers=admin)
    assert response.status_code == 404


async def test_events_before_a_url_is_set_are_not_sent_later(
    client, factory, sessionmaker, dispatcher, allow_private, receivers
):
    receiver = receivers()
    user, order_id = await account_with_order(client, factory, sessionmaker)
    await add_events(sessionmaker, user.id, order_id, 3)
    assert await queued(sessionmaker) == 0 and await dispatcher.tick() == 0
    await set_url(client, user, receiver.url)
    later = await add_events(sessionmaker, user.id, order_id, 2)
    await drain(dispatcher)
    assert list(receiver.event_ids()) == later

    # Removing the URL forgets what was still queued; it is not sent to a later URL.
    response = await client.patch("/v1/webhook", json={"webhook_url": ""}, headers=user.headers)
    assert response.status_code == 200
    await add_events(sessionmaker, user.id, order_id, 1)
    assert await queued(sessionmaker) == 0
    await set_url(client, user, receiver.url)
    await drain(dispatcher)
    assert list(receiver.event_ids()) == later


async def test_an_event_of_a_rolled_back_transition_is_never_queued(
    client, factory, sessionmaker, dispatcher, allow_private, receivers
):
    receiver = receivers()
    user, order_id = await account_with_order(client, factory, sessionmaker)
    await set_url(client, user, receiver.url)
    async with sessionmaker() as session:
        async with session.begin():
            await session.execute(
                text("INSERT INTO events (account_id, subject_kind, order_id, type, payload) "
                     "VALUES (:a, 'order', :o, 'order.completed', '{}')"),
                {"a": user.id, "o": order_id},
            )  # fmt: skip
            assert await session.scalar(text("SELECT count(*) FROM webhook_outbox")) == 1
            await session.rollback()
    committed = await add_events(sessionmaker, user.id, order_id, 1)
    await drain(dispatcher)
    assert list(receiver.event_ids().elements()) == committed
