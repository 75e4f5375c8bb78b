"""/v1/orders through HTTP: create (exact and routed), idempotency, reads, the lifecycle with
a fake clock and the poller, cancel, expiry, the outbox, and the ledger audit after money moves.

Sandbox prices for Indonesia/WhatsApp (cost +20 %, rounded up to 100 IDR): economy 3,400,
standard 4,800, Telkomsel 5,300, Indosat 5,600, XL 5,800, Tri 6,000, premium 8,700.
"""

import asyncio
import dataclasses
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.catalog.models import CatalogProduct, Country, Operator, Product, Service
from app.kit.clock import rfc3339
from app.ledger import audit
from app.ledger import service as ledger_service
from app.ledger.models import LedgerEntry
from app.orders.models import Order, OrderEvent
from tests.factories import AccountWithToken, Factory

START = 100_000

CAPABILITY_KEYS = {
    "can_finish",
    "can_resend",
    "can_cancel",
    "can_replace",
    "can_reactivate",
    "resend_available_at",
    "cancel_available_at",
    "replace_available_at",
}
CREATED_KEYS = {
    "id",
    "status",
    "phone_number",
    "otp_code",
    "otp_received_at",
    "expires_at",
    "failed_reason",
    "product_id",
    "catalog_product_id",
    "operator_id",
    "operator_name",
    "amount",
} | CAPABILITY_KEYS
FULL_KEYS = {
    "id",
    "status",
    "created_at",
    "product_id",
    "catalog_product_id",
    "operator_id",
    "operator_name",
    "phone_number",
    "amount",
    "otp_code",
    "otp_message",
    "sms_revision",
    "otp_received_at",
    "expires_at",
    "canceled_at",
    "failed_reason",
} | CAPABILITY_KEYS
ACTIVE_KEYS = {
    "id",
    "status",
    "otp_code",
    "otp_message",
    "sms_revision",
    "otp_received_at",
    "expires_at",
    "failed_reason",
    "operator_id",
    "operator_name",
} | CAPABILITY_KEYS
EVENT_DATA_KEYS = {
    "order_id",
    "phone_number",
    "otp_code",
    "otp_message",
    "sms_revision",
    "product_id",
    "catalog_product_id",
    "country",
    "platform",
    "operator_id",
    "operator_name",
} | CAPABILITY_KEYS


# --- setup and helpers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    id: int
    key: str
    price: int
    operator_id: int | None


@dataclass(frozen=True)
class Catalog:
    cp: int  # the Indonesia/WhatsApp umbrella
    tiers: list[Tier]  # its tiers, cheapest first
    operators: dict[str, int]  # Indonesian operator code → id
    sold_out_tier: int  # a tier the catalog lists with zero stock (ID:tiktok:xl:standard)

    def tier(self, suffix: str) -> Tier:
        return next(t for t in self.tiers if t.key == f"ID:whatsapp:{suffix}")

    @property
    def economy(self) -> Tier:
        return self.tier("any:economy")

    @property
    def standard(self) -> Tier:
        return self.tier("any:standard")


async def load_catalog(sessionmaker) -> Catalog:
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(
                    Product.id,
                    Product.upstream_key,
                    Product.price,
                    Product.operator_id,
                    Product.catalog_product_id,
                )
                .join(CatalogProduct, CatalogProduct.id == Product.catalog_product_id)
                .join(Country, Country.id == CatalogProduct.country_id)
                .join(Service, Service.id == CatalogProduct.service_id)
                .where(Country.code == "ID", Service.code == "whatsapp")
                .order_by(Product.price)
            )
        ).all()
        operators = dict(
            (
                await session.execute(
                    select(Operator.code, Operator.id)
                    .join(Country, Country.id == Operator.country_id)
                    .where(Country.code == "ID")
                )
            ).all()
        )
        sold_out = await session.scalar(
            select(Product.id).where(Product.upstream_key == "ID:tiktok:xl:standard")
        )
    assert len({r.catalog_product_id for r in rows}) == 1 and sold_out is not None
    tiers = [Tier(r.id, r.upstream_key, r.price, r.operator_id) for r in rows]
    return Catalog(rows[0].catalog_product_id, tiers, operators, sold_out)


@pytest.fixture
async def catalog(factory: Factory, sessionmaker) -> Catalog:
    await factory.sandbox_catalog()
    cat = await load_catalog(sessionmaker)
    assert [t.price for t in cat.tiers] == [3400, 4800, 5300, 5600, 5800, 6000, 8700]
    return cat


@pytest.fixture
async def user(factory: Factory, catalog: Catalog) -> AccountWithToken:
    return await factory.account(balance=START)


@pytest.fixture
def no_sms(monkeypatch: pytest.MonkeyPatch, sandbox) -> None:
    """Numbers bought from now on never get an SMS (restored after the test)."""
    monkeypatch.setattr(sandbox, "settings", dataclasses.replace(sandbox.settings, no_sms_rate=1.0))


async def create(
    client: httpx.AsyncClient,
    user: AccountWithToken,
    body: Any,
    key: str | None = None,
    key_header: str = "Idempotency-Key",
) -> httpx.Response:
    headers = dict(user.headers)
    if key is not None:
        headers[key_header] = key
    return await client.post("/v1/orders/create", json=body, headers=headers)


async def create_one(client, user, body: dict[str, Any]) -> dict[str, Any]:
    response = await create(client, user, body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["failed_count"] == 0 and len(data["orders"]) == 1
    return data["orders"][0]  # type: ignore[no-any-return]


async def post(client, user, action: str, body: dict[str, Any], key: str | None = None):
    headers = dict(user.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(f"/v1/orders/{action}", json=body, headers=headers)


async def get_order(client, user, order_id: int) -> dict[str, Any]:
    response = await client.get(f"/v1/orders/{order_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


async def balance(client, user) -> int:
    response = await client.get("/v1/balance", headers=user.headers)
    return response.json()["data"]["balance"]  # type: ignore[no-any-return]


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False
    return body["error"]  # type: ignore[no-any-return]


async def assert_audit_ok(sessionmaker) -> None:
    async with sessionmaker() as session:
        report = await audit.run(session)
    assert report.ok, report.problems


async def money_rows(sessionmaker, account_id: int) -> dict[str, int]:
    """Counts for one account: orders of every status (internal ones too), debits, refunds."""
    async with sessionmaker() as session:
        orders = await session.scalar(
            select(func.count()).select_from(Order).where(Order.account_id == account_id)
        )
        kinds = dict(
            (
                await session.execute(
                    select(LedgerEntry.kind, func.count())
                    .where(LedgerEntry.account_id == account_id)
                    .group_by(LedgerEntry.kind)
                )
            ).all()
        )
    return {
        "orders": int(orders or 0),
        "debits": kinds.get("order_debit", 0),
        "refunds": kinds.get("order_refund", 0),
    }


async def statuses(sessionmaker, account_id: int) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Order.status).where(Order.account_id == account_id).order_by(Order.id)
        )
        return list(rows)


async def to_otp(client, user, clock, poller, order_id: int) -> dict[str, Any]:
    """Move the clock past the sandbox's 10 s SMS delay and run the poller once."""
    clock.advance(11)
    await poller.tick()
    order = await get_order(client, user, order_id)
    assert order["status"] == "OTP_RECEIVED"
    return order


def z(clock, seconds: float = 0) -> str | None:
    return rfc3339(clock.now + timedelta(seconds=seconds))


# --- create -----------------------------------------------------------------------------------


class TestCreateExact:
    async def test_by_product_id_full_shape_and_charge(
        self, client, user, catalog, clock, sessionmaker
    ):
        tier = catalog.tier("telkomsel:standard")
        response = await create(client, user, {"product_id": tier.id})
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True and set(body["data"]) == {"orders", "failed_count"}
        assert body["data"]["failed_count"] == 0
        [item] = body["data"]["orders"]
        assert set(item) == CREATED_KEYS
        assert re.fullmatch(r"\+628\d{9}", item["phone_number"])
        assert item == {
            "id": item["id"],
            "status": "ACTIVE",
            "phone_number": item["phone_number"],
            "otp_code": None,
            "otp_received_at": None,
            "expires_at": z(clock, 1200),
            "failed_reason": None,
            "product_id": tier.id,
            "catalog_product_id": catalog.cp,
            "operator_id": catalog.operators["telkomsel"],
            "operator_name": "Telkomsel",
            "amount": 5300,
            "can_finish": False,
            "can_resend": False,
            "can_cancel": False,
            "can_replace": False,
            "can_reactivate": False,
            "resend_available_at": None,
            "cancel_available_at": z(clock, 120),
            "replace_available_at": z(clock, 120),
        }
        assert await balance(client, user) == START - 5300
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 0}
        await assert_audit_ok(sessionmaker)

    async def test_quantity_three_charges_three_times(
        self, client, user, catalog, clock, sessionmaker
    ):
        response = await create(client, user, {"product_id": catalog.economy.id, "quantity": 3})
        assert response.status_code == 200
        data = response.json()["data"]
        assert data["failed_count"] == 0 and len(data["orders"]) == 3
        assert all(o["amount"] == 3400 and o["status"] == "ACTIVE" for o in data["orders"])
        assert len({o["phone_number"] for o in data["orders"]}) == 3
        assert len({o["id"] for o in data["orders"]}) == 3
        assert await balance(client, user) == START - 3 * 3400
        await assert_audit_ok(sessionmaker)

    async def test_partial_failures_on_exact_tier_charge_only_created(
        self, client, user, catalog, clock, sandbox, sessionmaker
    ):
        # One 502 and one "no numbers": the third attempt on the same tier succeeds. An exact
        # tier does not fail over to another tier.
        sandbox.fail_next = ["error", "no_stock"]
        response = await create(client, user, {"product_id": catalog.economy.id, "quantity": 3})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["failed_count"] == 2
        [order] = data["orders"]
        assert order["product_id"] == catalog.economy.id and order["amount"] == 3400
        assert await balance(client, user) == START - 3400
        assert await statuses(sessionmaker, user.id) == ["FAILED", "FAILED", "ACTIVE"]
        await assert_audit_ok(sessionmaker)

    async def test_upstream_error_on_exact_tier_does_not_fail_over(
        self, client, user, catalog, clock, sandbox, sessionmaker
    ):
        sandbox.fail_next = ["error"]
        response = await create(client, user, {"product_id": catalog.economy.id})
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "PROVIDER_ERROR"
        assert error["details"] == {"reasons": ["sandbox: upstream answered 502"]}
        assert await balance(client, user) == START
        assert await statuses(sessionmaker, user.id) == ["FAILED"]
        await assert_audit_ok(sessionmaker)

    async def test_timeout_is_adopted_in_request(
        self, client, user, catalog, clock, sandbox, sessionmaker
    ):
        # The sandbox bought the number but "lost" the answer; find_purchase finds it.
        sandbox.fail_next = ["timeout"]
        order = await create_one(client, user, {"product_id": catalog.economy.id})
        assert order["status"] == "ACTIVE" and order["phone_number"]
        assert await sandbox.find_purchase(str(order["id"])) is not None
        assert (await sandbox.find_purchase(str(order["id"]))).phone_number == order["phone_number"]
        assert await balance(client, user) == START - 3400
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 0}
        await assert_audit_ok(sessionmaker)

    async def test_insufficient_balance_is_409_and_nothing_moves(
        self, client, factory, catalog, sessionmaker
    ):
        poor = await factory.account(balance=3399)
        response = await create(client, poor, {"product_id": catalog.economy.id})
        assert response.status_code == 409
        assert error_of(response)["code"] == "INSUFFICIENT_BALANCE"
        assert await balance(client, poor) == 3399
        assert await money_rows(sessionmaker, poor.id) == {"orders": 0, "debits": 0, "refunds": 0}
        await assert_audit_ok(sessionmaker)

    async def test_balance_for_only_some_of_the_quantity(
        self, client, factory, catalog, clock, sessionmaker
    ):
        poor = await factory.account(balance=7000)
        response = await create(client, poor, {"product_id": catalog.economy.id, "quantity": 3})
        assert response.status_code == 200
        data = response.json()["data"]
        assert len(data["orders"]) == 2 and data["failed_count"] == 1
        assert await balance(client, poor) == 7000 - 2 * 3400
        await assert_audit_ok(sessionmaker)

    async def test_zero_stock_tier_is_no_offer(self, client, user, catalog):
        response = await create(client, user, {"product_id": catalog.sold_out_tier})
        assert response.status_code == 422
        assert error_of(response)["code"] == "NO_OFFER_AVAILABLE"
        assert await balance(client, user) == START

    async def test_unknown_product_is_validation_error(self, client, user, catalog):
        response = await create(client, user, {"product_id": 999_999})
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"]["fields"][0]["field"] == "product_id"


class TestCreateRouted:
    async def test_picks_the_cheapest_tier(self, client, user, catalog, clock, sessionmaker):
        order = await create_one(client, user, {"catalog_product_id": catalog.cp})
        assert set(order) == CREATED_KEYS
        assert order["product_id"] == catalog.economy.id
        assert order["catalog_product_id"] == catalog.cp
        assert order["operator_id"] is None and order["operator_name"] is None
        assert order["amount"] == 3400
        assert await balance(client, user) == START - 3400
        await assert_audit_ok(sessionmaker)

    @pytest.mark.parametrize(
        ("filters", "suffix", "price"),
        [
            ({"max_price": 20_000}, "any:economy", 3400),
            ({"max_price": 3400}, "any:economy", 3400),
            ({"min_price": 4000}, "any:standard", 4800),
            ({"min_price": 5000, "max_price": 5500}, "telkomsel:standard", 5300),
            ({"min_price": 6001}, "any:premium", 8700),
            ({"policy": "best_success"}, "any:economy", 3400),
            ({"policy": "cheapest", "prefer_provider": "SANDBOX"}, "any:economy", 3400),
        ],
    )
    async def test_price_filters_and_policies(
        self, client, user, catalog, clock, sessionmaker, filters, suffix, price
    ):
        order = await create_one(client, user, {"catalog_product_id": catalog.cp, **filters})
        assert order["product_id"] == catalog.tier(suffix).id
        assert order["amount"] == price
        assert await balance(client, user) == START - price
        await assert_audit_ok(sessionmaker)

    async def test_operator_filter(self, client, user, catalog, clock, sessionmaker):
        indosat = catalog.operators["indosat"]
        order = await create_one(
            client, user, {"catalog_product_id": catalog.cp, "operator_id": indosat}
        )
        assert order["product_id"] == catalog.tier("indosat:standard").id
        assert order["operator_id"] == indosat and order["operator_name"] == "Indosat Ooredoo"
        assert order["amount"] == 5600
        assert await balance(client, user) == START - 5600
        await assert_audit_ok(sessionmaker)

    async def test_fails_over_to_the_next_cheapest(
        self, client, user, catalog, clock, sandbox, sessionmaker
    ):
        sandbox.sold_out.add(catalog.tiers[0].key)
        order = await create_one(client, user, {"catalog_product_id": catalog.cp})
        assert order["product_id"] == catalog.tiers[1].id == catalog.standard.id
        assert order["amount"] == 4800
        assert await balance(client, user) == START - 4800
        # The refused attempt was debited and refunded in its own transactions.
        assert await statuses(sessionmaker, user.id) == ["FAILED", "ACTIVE"]
        await assert_audit_ok(sessionmaker)

    async def test_fails_over_on_upstream_errors_too(
        self, client, user, catalog, clock, sandbox, sessionmaker
    ):
        sandbox.fail_next = ["error", "garbage"]
        order = await create_one(client, user, {"catalog_product_id": catalog.cp})
        assert order["product_id"] == catalog.tiers[2].id and order["amount"] == 5300
        assert await balance(client, user) == START - 5300
        await assert_audit_ok(sessionmaker)

    async def test_all_candidates_failing_is_provider_error(
        self, client, user, catalog, clock, sandbox, sessionmaker
    ):
        sandbox.sold_out.update(t.key for t in catalog.tiers)
        response = await create(client, user, {"catalog_product_id": catalog.cp, "quantity": 2})
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "PROVIDER_ERROR"
        assert error["details"]["reasons"] == ["sandbox: NO_NUMBERS"] * 5
        assert await balance(client, user) == START
        listed = await client.get("/v1/orders", headers=user.headers)
        assert listed.json()["data"] == []
        assert set(await statuses(sessionmaker, user.id)) == {"FAILED"}
        await assert_audit_ok(sessionmaker)

    async def test_filters_matching_nothing_is_no_offer(self, client, user, catalog):
        response = await create(client, user, {"catalog_product_id": catalog.cp, "max_price": 3399})
        assert response.status_code == 422
        assert error_of(response)["code"] == "NO_OFFER_AVAILABLE"
        assert await balance(client, user) == START

    async def test_umbrella_without_stock_is_no_offer(self, client, user, catalog, sessionmaker):
        from sqlalchemy import update

        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Product).where(Product.catalog_product_id == catalog.cp).values(available=0)
            )
        response = await create(client, user, {"catalog_product_id": catalog.cp})
        assert response.status_code == 422
        assert error_of(response)["code"] == "NO_OFFER_AVAILABLE"

    async def test_disabled_provider_has_no_offer(self, client, user, factory, catalog):
        await factory.set_provider_enabled("sandbox", False)
        for body in ({"catalog_product_id": catalog.cp}, {"product_id": catalog.economy.id}):
            response = await create(client, user, body)
            assert response.status_code == 422
            assert error_of(response)["code"] == "NO_OFFER_AVAILABLE"
        assert await balance(client, user) == START

    async def test_unknown_umbrella_is_validation_error(self, client, user, catalog):
        response = await create(client, user, {"catalog_product_id": 999_999})
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"]["fields"][0]["field"] == "catalog_product_id"


class TestCreateValidation:
    @pytest.mark.parametrize("which", ["both", "neither"])
    async def test_exactly_one_of_product_or_catalog_product(self, client, user, catalog, which):
        body = (
            {"product_id": catalog.economy.id, "catalog_product_id": catalog.cp}
            if which == "both"
            else {"quantity": 1}
        )
        response = await create(client, user, body)
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert {f["field"] for f in error["details"]["fields"]} == {
            "product_id",
            "catalog_product_id",
        }

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("max_price", 10_000),
            ("min_price", 1),
            ("prefer_provider", "sandbox"),
            ("policy", "cheapest"),
            ("operator_id", 1),
        ],
    )
    async def test_routed_only_fields_rejected_with_product_id(
        self, client, user, catalog, field, value
    ):
        response = await create(client, user, {"product_id": catalog.economy.id, field: value})
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"]["fields"] == [
            {"field": field, "message": "is valid only with catalog_product_id"}
        ]
        assert await balance(client, user) == START

    @pytest.mark.parametrize("quantity", [0, 101, "2", -1, 1.5, None])
    async def test_quantity_bounds_and_type(self, client, user, catalog, quantity):
        response = await create(
            client, user, {"product_id": catalog.economy.id, "quantity": quantity}
        )
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"]["fields"][0]["field"] == "quantity"

    async def test_hundred_is_the_maximum_quantity(
        self, client, factory, catalog, clock, sessionmaker
    ):
        rich = await factory.account(balance=1_000_000)
        response = await create(client, rich, {"product_id": catalog.economy.id, "quantity": 100})
        assert response.status_code == 200
        assert len(response.json()["data"]["orders"]) == 100
        assert await balance(client, rich) == 1_000_000 - 100 * 3400
        await assert_audit_ok(sessionmaker)

    async def test_min_price_above_max_price(self, client, user, catalog):
        response = await create(
            client, user, {"catalog_product_id": catalog.cp, "min_price": 5000, "max_price": 4000}
        )
        assert response.status_code == 422
        assert error_of(response)["details"]["fields"][0]["field"] == "min_price"

    async def test_unknown_policy(self, client, user, catalog):
        response = await create(
            client, user, {"catalog_product_id": catalog.cp, "policy": "fastest"}
        )
        assert response.status_code == 422
        assert error_of(response)["details"]["fields"][0]["field"] == "policy"

    async def test_string_ids_are_not_numbers(self, client, user, catalog):
        response = await create(client, user, {"product_id": str(catalog.economy.id)})
        assert response.status_code == 422
        assert error_of(response)["details"]["fields"][0]["field"] == "product_id"

    async def test_malformed_json(self, client, user, catalog):
        response = await client.post(
            "/v1/orders/create",
            content=b'{"product_id": ',
            headers={**user.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"]["fields"] == [{"field": "body", "message": "Malformed JSON body."}]
        assert await balance(client, user) == START

    async def test_needs_a_token(self, client, catalog):
        response = await client.post("/v1/orders/create", json={"product_id": 1})
        assert response.status_code == 401
        assert error_of(response)["code"] == "UNAUTHORIZED"


# --- idempotency ------------------------------------------------------------------------------


class TestIdempotency:
    async def test_same_key_same_body_replays_bytes_and_charges_once(
        self, client, user, catalog, clock, sessionmaker
    ):
        body = {"catalog_product_id": catalog.cp, "quantity": 2}
        first = await create(client, user, body, key="order-1")
        clock.advance(30)  # a replay does not recompute the capability block either
        second = await create(client, user, body, key="order-1")
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        assert len(first.json()["data"]["orders"]) == 2
        assert await balance(client, user) == START - 2 * 3400
        assert await money_rows(sessionmaker, user.id) == {"orders": 2, "debits": 2, "refunds": 0}
        await assert_audit_ok(sessionmaker)

    async def test_same_key_different_body_is_rejected(
        self, client, user, catalog, clock, sessionmaker
    ):
        first = await create(client, user, {"catalog_product_id": catalog.cp}, key="k")
        assert first.status_code == 200
        second = await create(
            client, user, {"catalog_product_id": catalog.cp, "quantity": 2}, key="k"
        )
        assert second.status_code == 422
        assert error_of(second)["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert await balance(client, user) == START - 3400
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 0}
        await assert_audit_ok(sessionmaker)

    @pytest.mark.parametrize("key", ["has space", "x" * 129, "x" * 300, "a/b", "a.b", ""])
    async def test_bad_key_format(self, client, user, catalog, sessionmaker, key):
        response = await create(client, user, {"catalog_product_id": catalog.cp}, key=key)
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"]["fields"][0]["field"] == "Idempotency-Key"
        assert await money_rows(sessionmaker, user.id) == {"orders": 0, "debits": 0, "refunds": 0}

    async def test_longest_allowed_key(self, client, user, catalog, clock):
        key = "A-_z9" + "x" * 123
        assert len(key) == 128
        response = await create(client, user, {"catalog_product_id": catalog.cp}, key=key)
        assert response.status_code == 200

    async def test_header_name_is_case_insensitive(
        self, client, user, catalog, clock, sessionmaker
    ):
        body = {"catalog_product_id": catalog.cp}
        first = await create(client, user, body, key="case", key_header="idempotency-key")
        second = await create(client, user, body, key="case", key_header="IDEMPOTENCY-KEY")
        assert first.status_code == 200 and first.content == second.content
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 0}

    async def test_keys_are_per_account(self, client, user, factory, catalog, clock, sessionmaker):
        other = await factory.account(balance=START)
        body = {"catalog_product_id": catalog.cp}
        mine = await create(client, user, body, key="shared")
        theirs = await create(client, other, body, key="shared")
        assert mine.status_code == theirs.status_code == 200
        mine_id = mine.json()["data"]["orders"][0]["id"]
        theirs_id = theirs.json()["data"]["orders"][0]["id"]
        assert mine_id != theirs_id
        assert await balance(client, user) == await balance(client, other) == START - 3400
        assert (
            await client.get(f"/v1/orders/{theirs_id}", headers=user.headers)
        ).status_code == 404
        await assert_audit_ok(sessionmaker)

    async def test_same_body_in_another_spelling_is_the_same_request(
        self, client, user, catalog, clock, sessionmaker
    ):
        headers = {**user.headers, "Content-Type": "application/json", "Idempotency-Key": "k2"}
        first = await client.post(
            "/v1/orders/create",
            content=f'{{"quantity": 1, "catalog_product_id": {catalog.cp}}}'.encode(),
            headers=headers,
        )
        second = await client.post(
            "/v1/orders/create",
            content=f'{{ "catalog_product_id" : {catalog.cp} }}'.encode(),
            headers=headers,
        )
        assert first.status_code == 200 and second.content == first.content
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 0}

    async def test_concurrent_retry_is_request_in_progress(
        self, client, user, catalog, clock, sandbox, monkeypatch, sessionmaker
    ):
        monkeypatch.setattr(
            sandbox, "settings", dataclasses.replace(sandbox.settings, latency_ms=300)
        )
        body = {"catalog_product_id": catalog.cp}
        responses = await asyncio.gather(
            create(client, user, body, key="busy"), create(client, user, body, key="busy")
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409]
        busy = next(r for r in responses if r.status_code == 409)
        assert error_of(busy)["code"] == "REQUEST_IN_PROGRESS"
        done = next(r for r in responses if r.status_code == 200)
        later = await create(client, user, body, key="busy")
        assert later.status_code == 200 and later.content == done.content
        assert await balance(client, user) == START - 3400
        await assert_audit_ok(sessionmaker)

    async def test_no_key_no_deduplication(self, client, user, catalog, clock, sessionmaker):
        body = {"catalog_product_id": catalog.cp}
        await create_one(client, user, body)
        await create_one(client, user, body)
        assert await money_rows(sessionmaker, user.id) == {"orders": 2, "debits": 2, "refunds": 0}

    async def test_a_failure_is_replayed_even_after_a_top_up(
        self, client, factory, catalog, clock, sessionmaker
    ):
        poor = await factory.account(balance=100)
        body = {"catalog_product_id": catalog.cp}
        first = await create(client, poor, body, key="retry-me")
        assert first.status_code == 409
        assert error_of(first)["code"] == "INSUFFICIENT_BALANCE"
        async with sessionmaker() as session, session.begin():
            await ledger_service.topup(session, poor.id, START, "test")
        again = await create(client, poor, body, key="retry-me")
        assert again.status_code == 409 and again.content == first.content
        assert await balance(client, poor) == START + 100
        fresh = await create(client, poor, body, key="retry-me-2")
        assert fresh.status_code == 200
        assert await balance(client, poor) == START + 100 - 3400
        await assert_audit_ok(sessionmaker)

    async def test_create_and_reactivate_do_not_collide(
        self, client, user, catalog, clock, poller, sessionmaker
    ):
        body = {"catalog_product_id": catalog.cp}
        created = await create(client, user, body, key="same")
        parent = created.json()["data"]["orders"][0]
        await to_otp(client, user, clock, poller, parent["id"])
        assert (await post(client, user, "finish", {"id": parent["id"]})).status_code == 200

        react = await post(client, user, "reactivate", {"id": parent["id"]}, key="same")
        assert react.status_code == 200, react.text
        [child] = react.json()["data"]["orders"]
        assert child["id"] != parent["id"]
        assert child["phone_number"] == parent["phone_number"]

        replay_react = await post(client, user, "reactivate", {"id": parent["id"]}, key="same")
        assert replay_react.status_code == 200 and replay_react.content == react.content
        replay_create = await create(client, user, body, key="same")
        assert replay_create.content == created.content
        assert await balance(client, user) == START - 2 * 3400
        assert await money_rows(sessionmaker, user.id) == {"orders": 2, "debits": 2, "refunds": 0}

        other_body = await post(
            client, user, "reactivate", {"id": parent["id"], "max_price": 99_999}, key="same"
        )
        assert other_body.status_code == 422
        assert error_of(other_body)["code"] == "IDEMPOTENCY_KEY_REUSED"
        bad_key = await post(client, user, "reactivate", {"id": parent["id"]}, key="has space")
        assert bad_key.status_code == 422
        assert error_of(bad_key)["details"]["fields"][0]["field"] == "Idempotency-Key"
        await assert_audit_ok(sessionmaker)


# --- reads ------------------------------------------------------------------------------------


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


# --- lifecycle --------------------------------------------------------------------------------


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
                        select(OrderEvent)
                        .where(OrderEvent.event == "order.otp_received")
                        .order_by(OrderEvent.id)
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


# --- outbox -----------------------------------------------------------------------------------


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
            rows = (await session.execute(select(OrderEvent).order_by(OrderEvent.id))).scalars()
            events = [(r.account_id, r.order_id, r.event, r.payload) for r in rows]
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
