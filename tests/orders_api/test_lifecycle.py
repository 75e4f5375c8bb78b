"""/v1/orders: an order's life with a fake clock and the poller: SMS, resend, finish,
reactivate, cancel, expiry, the outbox."""

import dataclasses
import re

import pytest
from sqlalchemy import select

from app.events.models import Event
from tests.orders_api.support import (
    CREATED_KEYS,
    EVENT_DATA_KEYS,
    START,
    assert_audit_ok,
    balance,
    create_one,
    error_of,
    get_order,
    money_rows,
    post,
    to_otp,
    z,
)


class TestLifecycle:
    async def test_sms_resend_finish_reactivate(
        self, client, user, catalog, clock, poller, sessionmaker
    ):
        created = await create_one(client, user, {"catalog_product_id": catalog.cp})
        order_id = created["id"]
        bought_at = clock.now

        clock.advance(5)
        await poller.tick()
        order = await get_order(client, user, order_id)
        assert order["status"] == "ACTIVE" and order["sms_revision"] == 0
        assert order["otp_code"] is None and order["otp_message"] is None

        clock.advance(6)  # 11 s after the purchase
        await poller.tick()
        order = await get_order(client, user, order_id)
        received_at = z(clock)
        assert order["status"] == "OTP_RECEIVED"
        assert re.fullmatch(r"\d{6}", order["otp_code"])
        code = order["otp_code"]
        assert code[:3] in order["otp_message"] and code[3:] in order["otp_message"]
        assert "WhatsApp" in order["otp_message"]
        assert order["sms_revision"] == 1 and order["otp_received_at"] == received_at
        assert order["can_finish"] is True and order["can_resend"] is True
        assert order["can_cancel"] is False and order["cancel_available_at"] is None
        assert order["replace_available_at"] is None and order["can_replace"] is False

        cancel = await post(client, user, "cancel", {"id": order_id})
        assert cancel.status_code == 409 and error_of(cancel)["code"] == "CONFLICT"

        resend = await post(client, user, "resend", {"id": order_id})
        assert resend.status_code == 200
        assert resend.json()["data"] == {
            "order_id": order_id,
            "status": "OTP_RECEIVED",
            "resent": True,
        }
        order = await get_order(client, user, order_id)
        assert order["can_resend"] is False and order["resend_available_at"] == z(clock, 30)
        again = await post(client, user, "resend", {"id": order_id})
        assert again.status_code == 409 and error_of(again)["code"] == "CONFLICT"

        clock.advance(11)
        await poller.tick()
        order = await get_order(client, user, order_id)
        assert order["sms_revision"] == 2 and order["status"] == "OTP_RECEIVED"
        assert order["otp_received_at"] == received_at
        assert re.fullmatch(r"\d{6}", order["otp_code"])
        assert order["can_resend"] is False  # still 19 s of cooldown
        clock.advance(19)
        order = await get_order(client, user, order_id)
        assert order["can_resend"] is True and order["resend_available_at"] is None

        finish = await post(client, user, "finish", {"id": order_id})
        assert finish.status_code == 200
        assert finish.json()["data"] == {"order_id": order_id, "status": "COMPLETED"}
        order = await get_order(client, user, order_id)
        assert order["status"] == "COMPLETED" and order["sms_revision"] == 2
        assert order["can_finish"] is False and order["can_resend"] is False
        assert order["can_reactivate"] is True
        second = await post(client, user, "finish", {"id": order_id})
        assert second.status_code == 409 and error_of(second)["code"] == "CONFLICT"
        late_resend = await post(client, user, "resend", {"id": order_id})
        assert late_resend.status_code == 409

        options = await client.get(
            f"/v1/orders/{order_id}/reactivate-options", headers=user.headers
        )
        assert options.status_code == 200
        assert options.json()["data"] == {"cost": 3400}

        too_cheap = await post(client, user, "reactivate", {"id": order_id, "max_price": 3399})
        assert too_cheap.status_code == 422
        assert error_of(too_cheap)["code"] == "VALIDATION_ERROR"
        assert await balance(client, user) == START - 3400

        react = await post(client, user, "reactivate", {"id": order_id, "max_price": 3400})
        assert react.status_code == 200, react.text
        data = react.json()["data"]
        assert data["failed_count"] == 0
        [child] = data["orders"]
        assert set(child) == CREATED_KEYS
        assert child["id"] != order_id and child["status"] == "ACTIVE"
        assert child["phone_number"] == created["phone_number"]
        assert child["product_id"] == created["product_id"]
        assert child["catalog_product_id"] == catalog.cp
        assert child["amount"] == 3400
        assert await balance(client, user) == START - 2 * 3400

        child_again = await post(client, user, "reactivate", {"id": child["id"]})
        assert child_again.status_code == 409 and error_of(child_again)["code"] == "CONFLICT"
        child_options = await client.get(
            f"/v1/orders/{child['id']}/reactivate-options", headers=user.headers
        )
        assert child_options.status_code == 409

        clock.advance(11)
        await poller.tick()
        child_now = await get_order(client, user, child["id"])
        assert child_now["status"] == "OTP_RECEIVED" and child_now["sms_revision"] == 1
        assert (clock.now - bought_at).total_seconds() == 52
        await assert_audit_ok(sessionmaker)

    async def test_two_sms_in_one_poll(self, client, user, catalog, clock, poller, sessionmaker):
        order = await create_one(client, user, {"product_id": catalog.economy.id})
        first = await to_otp(client, user, clock, poller, order["id"])  # T+11
        assert (await post(client, user, "resend", {"id": order["id"]})).status_code == 200
        clock.advance(31)  # T+42: cooldown over; the resent SMS (T+21) is not polled yet
        assert (await post(client, user, "resend", {"id": order["id"]})).status_code == 200
        clock.advance(11)  # T+53: both resent SMS are there
        await poller.tick()
        seen = await get_order(client, user, order["id"])
        assert seen["sms_revision"] == 3
        assert seen["otp_received_at"] == first["otp_received_at"]
        async with sessionmaker() as session:
            revisions = [
                e.payload["data"]["sms_revision"]
                for e in (
                    await session.execute(
                        select(Event).where(Event.type == "order.otp_received").order_by(Event.id)
                    )
                ).scalars()
            ]
        assert revisions == [1, 2, 3]

    async def test_actions_on_someone_elses_order_are_404(
        self, client, user, factory, catalog, clock, poller
    ):
        other = await factory.account(balance=START)
        theirs = await create_one(client, other, {"product_id": catalog.economy.id})
        await to_otp(client, other, clock, poller, theirs["id"])
        for action in ("finish", "resend", "reactivate"):
            response = await post(client, user, action, {"id": theirs["id"]})
            assert response.status_code == 404, action
            assert error_of(response)["code"] == "NOT_FOUND"
        options = await client.get(
            f"/v1/orders/{theirs['id']}/reactivate-options", headers=user.headers
        )
        assert options.status_code == 404
        assert (await get_order(client, other, theirs["id"]))["status"] == "OTP_RECEIVED"

    async def test_finish_and_resend_need_an_sms(self, client, user, catalog, clock):
        order = await create_one(client, user, {"product_id": catalog.economy.id})
        for action in ("finish", "resend"):
            response = await post(client, user, action, {"id": order["id"]})
            assert response.status_code == 409, action
            assert error_of(response)["code"] == "CONFLICT"
        options = await client.get(
            f"/v1/orders/{order['id']}/reactivate-options", headers=user.headers
        )
        assert options.status_code == 409 and error_of(options)["code"] == "CONFLICT"
        react = await post(client, user, "reactivate", {"id": order["id"]})
        assert react.status_code == 409 and error_of(react)["code"] == "CONFLICT"
        assert await balance(client, user) == START - 3400


class TestCancel:
    async def test_too_early_then_refunded(
        self, client, user, catalog, clock, poller, no_sms, sessionmaker
    ):
        order = await create_one(client, user, {"product_id": catalog.standard.id})
        window_ends = z(clock, 120)
        clock.advance(60)
        await poller.tick()

        early = await post(client, user, "cancel", {"id": order["id"]})
        assert early.status_code == 409
        error = error_of(early)
        assert error["code"] == "CANCEL_TOO_EARLY"
        assert error["details"] == {"cancel_available_at": window_ends}
        seen = await get_order(client, user, order["id"])
        assert seen["status"] == "ACTIVE"
        assert seen["can_cancel"] is False and seen["can_replace"] is False
        assert seen["cancel_available_at"] == seen["replace_available_at"] == window_ends
        assert await balance(client, user) == START - 4800

        clock.advance(61)  # 121 s after the purchase
        await poller.tick()
        seen = await get_order(client, user, order["id"])
        assert seen["can_cancel"] is True and seen["can_replace"] is True
        assert seen["cancel_available_at"] is None and seen["replace_available_at"] is None

        canceled = await post(client, user, "cancel", {"id": order["id"]})
        assert canceled.status_code == 200
        assert canceled.json() == {
            "success": True,
            "data": {
                "order_id": order["id"],
                "status": "CANCELED",
                "refund_amount": 4800,
                "new_balance": START,
            },
        }
        assert await balance(client, user) == START
        seen = await get_order(client, user, order["id"])
        assert seen["status"] == "CANCELED" and seen["canceled_at"] == z(clock)
        assert not any(
            seen[k]
            for k in ("can_finish", "can_resend", "can_cancel", "can_replace", "can_reactivate")
        )

        again = await post(client, user, "cancel", {"id": order["id"]})
        assert again.status_code == 409 and error_of(again)["code"] == "CONFLICT"
        assert await balance(client, user) == START
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 1}

        clock.advance(2000)
        await poller.tick()
        assert (await get_order(client, user, order["id"]))["status"] == "CANCELED"
        assert await balance(client, user) == START
        await assert_audit_ok(sessionmaker)

    async def test_upstream_refusal_keeps_the_order_active(
        self, client, user, catalog, clock, poller, sessionmaker
    ):
        # The SMS is already upstream but not polled yet: the provider refuses the cancel.
        order = await create_one(client, user, {"product_id": catalog.economy.id})
        clock.advance(121)
        refused = await post(client, user, "cancel", {"id": order["id"]})
        assert refused.status_code == 422
        assert error_of(refused)["code"] == "PROVIDER_ERROR"
        assert (await get_order(client, user, order["id"]))["status"] == "ACTIVE"
        assert await balance(client, user) == START - 3400
        await poller.tick()
        seen = await get_order(client, user, order["id"])
        assert seen["status"] == "OTP_RECEIVED" and seen["can_cancel"] is False
        assert await balance(client, user) == START - 3400
        await assert_audit_ok(sessionmaker)

    async def test_someone_elses_order_is_404(
        self, client, user, factory, catalog, clock, no_sms, sessionmaker
    ):
        other = await factory.account(balance=START)
        theirs = await create_one(client, other, {"product_id": catalog.economy.id})
        clock.advance(121)
        response = await post(client, user, "cancel", {"id": theirs["id"]})
        assert response.status_code == 404 and error_of(response)["code"] == "NOT_FOUND"
        assert (await get_order(client, other, theirs["id"]))["status"] == "ACTIVE"
        assert await balance(client, other) == START - 3400
        missing = await post(client, user, "cancel", {"id": 987_654})
        assert missing.status_code == 404
        await assert_audit_ok(sessionmaker)

    @pytest.mark.parametrize("body", [{}, {"id": "1"}, {"id": 0}])
    async def test_bad_body(self, client, user, body):
        response = await post(client, user, "cancel", body)
        assert response.status_code == 422
        assert error_of(response)["details"]["fields"][0]["field"] == "id"


class TestExpiry:
    async def test_no_sms_expires_and_refunds(
        self, client, user, catalog, clock, poller, no_sms, sessionmaker
    ):
        order = await create_one(client, user, {"product_id": catalog.standard.id})
        clock.advance(1199)
        await poller.tick()
        assert (await get_order(client, user, order["id"]))["status"] == "ACTIVE"
        assert await balance(client, user) == START - 4800

        clock.advance(2)
        await poller.tick()
        seen = await get_order(client, user, order["id"])
        assert seen["status"] == "EXPIRED" and seen["sms_revision"] == 0
        assert seen["otp_code"] is None and seen["canceled_at"] is None
        assert not any(
            seen[k] for k in ("can_finish", "can_resend", "can_cancel", "can_reactivate")
        )
        assert await balance(client, user) == START
        active = await client.get("/v1/orders/active", headers=user.headers)
        assert active.json()["data"] == []
        cancel = await post(client, user, "cancel", {"id": order["id"]})
        assert cancel.status_code == 409 and error_of(cancel)["code"] == "CONFLICT"

        clock.advance(10)
        await poller.tick()  # nothing is refunded twice
        assert await balance(client, user) == START
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 1}
        await assert_audit_ok(sessionmaker)

    async def test_sms_received_order_completes_at_expiry_without_refund(
        self, client, user, catalog, clock, poller, sessionmaker
    ):
        order = await create_one(client, user, {"product_id": catalog.standard.id})
        await to_otp(client, user, clock, poller, order["id"])
        clock.advance(1190)  # 1,201 s after the purchase
        await poller.tick()
        seen = await get_order(client, user, order["id"])
        assert seen["status"] == "COMPLETED" and seen["sms_revision"] == 1
        assert seen["can_reactivate"] is True and seen["can_finish"] is False
        assert await balance(client, user) == START - 4800
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 0}
        await assert_audit_ok(sessionmaker)


class TestOutbox:
    async def test_events_for_every_transition(
        self, client, user, catalog, clock, poller, sandbox, monkeypatch, sessionmaker
    ):
        telkomsel = catalog.operators["telkomsel"]
        done = await create_one(
            client, user, {"catalog_product_id": catalog.cp, "operator_id": telkomsel}
        )
        monkeypatch.setattr(
            sandbox, "settings", dataclasses.replace(sandbox.settings, no_sms_rate=1.0)
        )
        canceled = await create_one(client, user, {"product_id": catalog.economy.id})
        expired = await create_one(client, user, {"product_id": catalog.economy.id})

        clock.advance(11)
        await poller.tick()
        t_sms1 = z(clock)
        first = await get_order(client, user, done["id"])
        assert (await post(client, user, "resend", {"id": done["id"]})).status_code == 200
        clock.advance(11)
        await poller.tick()
        t_sms2 = z(clock)
        second = await get_order(client, user, done["id"])
        assert (await post(client, user, "finish", {"id": done["id"]})).status_code == 200
        t_done = z(clock)
        clock.advance(100)
        assert (await post(client, user, "cancel", {"id": canceled["id"]})).status_code == 200
        t_canceled = z(clock)
        clock.advance(1100)
        await poller.tick()
        t_expired = z(clock)
        assert (await get_order(client, user, expired["id"]))["status"] == "EXPIRED"

        async with sessionmaker() as session:
            rows = (await session.execute(select(Event).order_by(Event.id))).scalars()
            events = [(r.account_id, r.order_id, r.type, r.payload) for r in rows]
        assert [(e[1], e[2]) for e in events] == [
            (done["id"], "order.otp_received"),
            (done["id"], "order.otp_received"),
            (done["id"], "order.completed"),
            (canceled["id"], "order.canceled"),
            (expired["id"], "order.expired"),
        ]
        assert all(e[0] == user.id for e in events)
        for _, _, name, payload in events:
            assert set(payload) == {"event", "timestamp", "data"}
            assert payload["event"] == name
            assert set(payload["data"]) == EVENT_DATA_KEYS
            assert payload["data"]["country"] == "Indonesia"
            assert payload["data"]["platform"] == "WhatsApp"
            assert payload["data"]["catalog_product_id"] == catalog.cp

        sms1, sms2, completed, cancel_event, expire_event = (e[3] for e in events)
        assert sms1["timestamp"] == t_sms1 and sms2["timestamp"] == t_sms2
        assert sms1["data"] == {
            "order_id": done["id"],
            "phone_number": done["phone_number"],
            "otp_code": first["otp_code"],
            "otp_message": first["otp_message"],
            "sms_revision": 1,
            "product_id": catalog.tier("telkomsel:standard").id,
            "catalog_product_id": catalog.cp,
            "country": "Indonesia",
            "platform": "WhatsApp",
            "operator_id": telkomsel,
            "operator_name": "Telkomsel",
            "can_finish": True,
            "can_resend": True,
            "can_cancel": False,
            "can_replace": False,
            "can_reactivate": False,
            "resend_available_at": None,
            "cancel_available_at": None,
            "replace_available_at": None,
        }
        assert sms2["data"]["sms_revision"] == 2
        assert sms2["data"]["otp_code"] == second["otp_code"]
        assert sms2["data"]["otp_message"] == second["otp_message"]

        assert completed["timestamp"] == t_done
        assert completed["data"]["sms_revision"] is None
        assert completed["data"]["otp_code"] == second["otp_code"]
        assert completed["data"]["can_finish"] is False
        assert completed["data"]["can_reactivate"] is True
        assert completed["data"]["operator_name"] == "Telkomsel"

        for event, order, at in (
            (cancel_event, canceled, t_canceled),
            (expire_event, expired, t_expired),
        ):
            assert event["timestamp"] == at
            data = event["data"]
            assert data["order_id"] == order["id"]
            assert data["phone_number"] == order["phone_number"]
            assert data["sms_revision"] is None
            assert data["otp_code"] is None and data["otp_message"] is None
            assert data["product_id"] == catalog.economy.id
            assert data["operator_id"] is None and data["operator_name"] is None
            assert not any(
                data[k]
                for k in ("can_finish", "can_resend", "can_cancel", "can_replace", "can_reactivate")
            )
        await assert_audit_ok(sessionmaker)


class TestReactivationPrice:
    async def test_priced_by_the_providers_own_rule(
        self, client, user, catalog, clock, poller, sessionmaker
    ):
        """Reactivation is priced like the catalog: the provider's cost through its own rule."""
        from sqlalchemy import update

        from app.catalog.models import Provider

        created = await create_one(client, user, {"catalog_product_id": catalog.cp})
        clock.advance(11)
        await poller.tick()
        assert (await post(client, user, "finish", {"id": created["id"]})).status_code == 200
        options = f"/v1/orders/{created['id']}/reactivate-options"
        default = (await client.get(options, headers=user.headers)).json()["data"]["cost"]
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Provider).values(markup_percent=100, fixed_fee=7, round_to=1)
            )
        doubled = (await client.get(options, headers=user.headers)).json()["data"]["cost"]
        assert default == 3400  # 2,800 + 20 % = 3,360 → 3,400 (the default rule)
        assert doubled == 2 * 2800 + 7
