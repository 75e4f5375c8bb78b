"""/v1/orders: creating orders: exact tiers, routed orders with failover, validation."""

import re

import pytest

from app.catalog.models import Product
from tests.orders_api.support import (
    CREATED_KEYS,
    START,
    assert_audit_ok,
    balance,
    create,
    create_one,
    error_of,
    failed_reasons,
    money_rows,
    statuses,
    z,
)


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
        # One 502 and one "no numbers" among three purchases on the same tier; an exact tier
        # does not fail over to another tier. The three are bought concurrently, so which
        # order meets which failure (and so which ids fail) is up to the scheduler: only the
        # outcome is asserted, not the order.
        sandbox.fail_next = ["error", "no_stock"]
        response = await create(client, user, {"product_id": catalog.economy.id, "quantity": 3})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["failed_count"] == 2
        [order] = data["orders"]
        assert order["product_id"] == catalog.economy.id and order["amount"] == 3400
        assert await balance(client, user) == START - 3400
        assert sorted(await statuses(sessionmaker, user.id)) == ["ACTIVE", "FAILED", "FAILED"]
        assert await money_rows(sessionmaker, user.id) == {"orders": 3, "debits": 3, "refunds": 2}
        assert await failed_reasons(sessionmaker, user.id) == [
            "Rejected: NO_NUMBERS",
            "Unavailable: upstream answered 502",
        ]
        active = await client.get(f"/v1/orders/{order['id']}", headers=user.headers)
        assert active.json()["data"]["status"] == "ACTIVE"
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

    async def test_affordable_tier_failing_upstream_is_a_provider_error(
        self, client, factory, catalog, sandbox, sessionmaker
    ):
        """The balance covers only the cheapest tier and that upstream fails: the answer is
        PROVIDER_ERROR (what happened), not INSUFFICIENT_BALANCE (which the abuse guard
        counts against the client)."""
        poor = await factory.account(balance=catalog.tiers[0].price)
        sandbox.fail_next = ["error"]
        response = await create(client, poor, {"catalog_product_id": catalog.cp})
        assert response.status_code == 422, response.text
        assert error_of(response)["code"] == "PROVIDER_ERROR"
        assert await balance(client, poor) == catalog.tiers[0].price
        await assert_audit_ok(sessionmaker)

    async def test_a_lost_answer_takes_the_provider_out_of_the_request(
        self, client, user, catalog, sandbox, sessionmaker
    ):
        """A purchase whose answer was lost and cannot be looked up may be a number paid for
        upstream: the same request does not try that provider's next tier."""
        lookups = []

        async def not_found(reference: str):  # type: ignore[no-untyped-def]
            lookups.append(reference)

        sandbox.find_purchase = not_found  # type: ignore[method-assign]
        sandbox.fail_next = ["timeout"]
        try:
            response = await create(client, user, {"catalog_product_id": catalog.cp})
        finally:
            del sandbox.find_purchase
        assert len(lookups) == 1
        assert response.status_code == 422 and error_of(response)["code"] == "PROVIDER_ERROR"
        assert await statuses(sessionmaker, user.id) == ["PENDING"]

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
