"""/v1/orders: reading orders: list, get, active."""

import re

import pytest
from sqlalchemy import select

from app.orders.models import Order
from tests.orders_api.support import (
    ACTIVE_KEYS,
    FULL_KEYS,
    START,
    create,
    create_one,
    error_of,
    get_order,
    post,
    to_otp,
    z,
)


class TestListOrders:
    async def test_newest_first_with_limit_and_offset(self, client, user, catalog, clock):
        ids = [
            (await create_one(client, user, {"product_id": catalog.economy.id}))["id"]
            for _ in range(3)
        ]
        response = await client.get("/v1/orders", headers=user.headers)
        assert response.status_code == 200
        data = response.json()["data"]
        assert [o["id"] for o in data] == ids[::-1]
        assert all(set(o) == FULL_KEYS for o in data)
        page = await client.get("/v1/orders", params={"limit": 2}, headers=user.headers)
        assert [o["id"] for o in page.json()["data"]] == [ids[2], ids[1]]
        rest = await client.get(
            "/v1/orders", params={"limit": 2, "offset": 2}, headers=user.headers
        )
        assert [o["id"] for o in rest.json()["data"]] == [ids[0]]
        past = await client.get("/v1/orders", params={"offset": 3}, headers=user.headers)
        assert past.json()["data"] == []

    async def test_status_filter_is_case_insensitive(self, client, user, catalog, clock, poller):
        first = await create_one(client, user, {"product_id": catalog.economy.id})
        await to_otp(client, user, clock, poller, first["id"])
        second = await create_one(client, user, {"product_id": catalog.economy.id})

        async def ids(status: str) -> list[int]:
            response = await client.get(
                "/v1/orders", params={"status": status}, headers=user.headers
            )
            assert response.status_code == 200, response.text
            return [o["id"] for o in response.json()["data"]]

        assert await ids("active") == [second["id"]]
        assert await ids("ACTIVE") == [second["id"]]
        assert await ids("Otp_Received") == [first["id"]]
        assert await ids("completed") == []

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"limit": 0}, "limit"),
            ({"limit": 101}, "limit"),
            ({"offset": -1}, "offset"),
            ({"limit": "ten"}, "limit"),
            ({"status": "PENDING"}, "status"),
            ({"status": "FAILED"}, "status"),
            ({"status": "nope"}, "status"),
        ],
    )
    async def test_bad_parameters(self, client, user, params, field):
        response = await client.get("/v1/orders", params=params, headers=user.headers)
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"]["fields"][0]["field"] == field

    async def test_limit_bounds_are_inclusive(self, client, user):
        for limit in (1, 100):
            response = await client.get("/v1/orders", params={"limit": limit}, headers=user.headers)
            assert response.status_code == 200

    async def test_only_the_callers_orders(self, client, user, factory, catalog, clock):
        other = await factory.account(balance=START)
        await create_one(client, other, {"product_id": catalog.economy.id})
        mine = await create_one(client, user, {"product_id": catalog.economy.id})
        response = await client.get("/v1/orders", headers=user.headers)
        assert [o["id"] for o in response.json()["data"]] == [mine["id"]]


class TestGetOrder:
    async def test_full_shape(self, client, user, catalog, clock):
        created_at = z(clock)
        tier = catalog.tier("xl:standard")
        created = await create_one(client, user, {"product_id": tier.id})
        clock.advance(5)
        order = await get_order(client, user, created["id"])
        assert order == {
            "id": created["id"],
            "status": "ACTIVE",
            "created_at": created_at,
            "product_id": tier.id,
            "catalog_product_id": catalog.cp,
            "operator_id": catalog.operators["xl"],
            "operator_name": "XL Axiata",
            "phone_number": created["phone_number"],
            "amount": 5800,
            "otp_code": None,
            "otp_message": None,
            "sms_revision": 0,
            "otp_received_at": None,
            "expires_at": z(clock, 1195),
            "canceled_at": None,
            "failed_reason": None,
            "can_finish": False,
            "can_resend": False,
            "can_cancel": False,
            "can_replace": False,
            "can_reactivate": False,
            "resend_available_at": None,
            "cancel_available_at": z(clock, 115),
            "replace_available_at": z(clock, 115),
        }

    async def test_someone_elses_order_is_404(self, client, user, factory, catalog, clock):
        other = await factory.account(balance=START)
        theirs = await create_one(client, other, {"product_id": catalog.economy.id})
        response = await client.get(f"/v1/orders/{theirs['id']}", headers=user.headers)
        assert response.status_code == 404
        assert error_of(response)["code"] == "NOT_FOUND"

    async def test_missing_and_bad_ids(self, client, user):
        missing = await client.get("/v1/orders/424242", headers=user.headers)
        assert missing.status_code == 404 and error_of(missing)["code"] == "NOT_FOUND"
        bad = await client.get("/v1/orders/abc", headers=user.headers)
        assert bad.status_code == 422 and error_of(bad)["code"] == "VALIDATION_ERROR"

    async def test_failed_attempts_are_not_visible(
        self, client, user, catalog, clock, sandbox, sessionmaker
    ):
        sandbox.fail_next = ["error"]
        await create(client, user, {"product_id": catalog.economy.id})
        async with sessionmaker() as session:
            failed_id = await session.scalar(select(Order.id).where(Order.status == "FAILED"))
        response = await client.get(f"/v1/orders/{failed_id}", headers=user.headers)
        assert response.status_code == 404


class TestActiveOrders:
    async def test_only_live_orders_compact_and_money_free(
        self, client, user, catalog, clock, poller, sessionmaker
    ):
        done = await create_one(client, user, {"product_id": catalog.economy.id})
        await to_otp(client, user, clock, poller, done["id"])
        assert (await post(client, user, "finish", {"id": done["id"]})).status_code == 200
        got_sms = await create_one(client, user, {"product_id": catalog.economy.id})
        await to_otp(client, user, clock, poller, got_sms["id"])
        waiting = await create_one(
            client,
            user,
            {"catalog_product_id": catalog.cp, "operator_id": catalog.operators["tri"]},
        )

        response = await client.get("/v1/orders/active", headers=user.headers)
        assert response.status_code == 200
        data = response.json()["data"]
        assert [o["id"] for o in data] == [waiting["id"], got_sms["id"]]
        for order in data:
            assert set(order) == ACTIVE_KEYS
            assert "amount" not in order and "phone_number" not in order
        assert data[0]["status"] == "ACTIVE" and data[0]["operator_name"] == "3 Indonesia"
        assert data[0]["cancel_available_at"] == z(clock, 120)
        assert data[1]["status"] == "OTP_RECEIVED" and data[1]["sms_revision"] == 1
        assert data[1]["can_finish"] is True and re.fullmatch(r"\d{6}", data[1]["otp_code"])

    async def test_empty_and_per_account(self, client, user, factory, catalog, clock):
        other = await factory.account(balance=START)
        await create_one(client, other, {"product_id": catalog.economy.id})
        response = await client.get("/v1/orders/active", headers=user.headers)
        assert response.json() == {"success": True, "data": []}
