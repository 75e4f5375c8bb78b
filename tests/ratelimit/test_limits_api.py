"""Rate limits at the API: groups, headers on every limited response, 429s, overrides,
/v1 and /v2 sharing one budget. Small limits on the shared app (reset per test)."""

import httpx
import pytest
from fastapi import FastAPI

from app.auth import service as auth_service
from app.ratelimit.groups import ROUTES, Group, group_of
from app.ratelimit.state import RateLimits
from tests.factories import AccountWithToken
from tests.orders_api.support import Catalog, create

LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def limits_of(response: httpx.Response) -> tuple[int, int, int]:
    limit, remaining, reset = (int(response.headers[h]) for h in LIMIT_HEADERS)
    return limit, remaining, reset


async def balance(client: httpx.AsyncClient, user: AccountWithToken) -> httpx.Response:
    return await client.get("/v1/balance", headers=user.headers)


class TestGroups:
    def test_every_v1_and_v2_route_has_a_group(self, app: FastAPI) -> None:
        seen = set()
        for path, operations in app.openapi()["paths"].items():
            if path.startswith(("/v1/", "/v2/")):
                for method in operations:
                    assert group_of(method.upper(), path) is not None, (method, path)
                    seen.add((method.upper(), path[3:]))
        # The table names real routes (the webhook PATCH/test arrive with the webhooks work).
        assert seen - set(ROUTES) == set()
        assert len(seen) >= 15

    def test_groups_follow_the_api_table(self) -> None:
        assert group_of("GET", "/v1/catalog/exchange-rate") is Group.CATALOG
        assert group_of("POST", "/v1/orders/reactivate") is Group.ORDER_CREATE
        assert group_of("POST", "/v2/orders/resend") is Group.ORDER_ACTIONS
        assert group_of("POST", "/v1/orders/cancel") is Group.ORDER_CANCEL
        assert group_of("PATCH", "/v1/webhook") is Group.WEBHOOK_CONFIG
        assert group_of("GET", "/v1/orders/active") is Group.ORDER_READS
        assert group_of("GET", "/v1/orders/17") is Group.ORDER_READS
        assert group_of("GET", "/v1/orders/17/reactivate-options") is Group.ORDER_READS
        assert group_of("GET", "/admin/whoami") is None
        assert group_of("GET", "/v3/balance") is None

    async def test_defaults_are_the_api_md_limits(self, client, user) -> None:
        expected = [
            ("/v1/catalog/countries", 1200, 1199),
            ("/v1/balance", 600, 599),
            ("/v1/orders", 1200, 1199),
            ("/v1/orders/active", 1200, 1198),  # the same group as the list
            ("/v1/webhook", 120, 119),
        ]
        for path, limit, remaining in expected:
            response = await client.get(path, headers=user.headers)
            assert response.status_code == 200, response.text
            assert limits_of(response)[:2] == (limit, remaining), path

    async def test_each_group_has_its_own_budget(self, client, user, set_limits) -> None:
        set_limits(balance=2)
        assert [(await balance(client, user)).status_code for _ in range(3)] == [200, 200, 429]
        catalog = await client.get("/v1/catalog/countries", headers=user.headers)
        assert catalog.status_code == 200
        assert limits_of(catalog)[:2] == (1200, 1199)

    async def test_each_token_has_its_own_budget(
        self, client, user, set_limits, sessionmaker
    ) -> None:
        set_limits(balance=1)
        async with sessionmaker() as session, session.begin():
            other = await auth_service.issue_token(session, user.id)
        second = AccountWithToken(user.id, other.token)
        assert (await balance(client, user)).status_code == 200
        assert (await balance(client, user)).status_code == 429
        assert (await balance(client, second)).status_code == 200


class TestHeaders:
    async def test_on_success(self, client, user) -> None:
        first, second = await balance(client, user), await balance(client, user)
        assert limits_of(first)[:2] == (600, 599)
        limit, remaining, reset = limits_of(second)
        assert (limit, remaining) == (600, 598)
        assert 0 < reset <= 60

    async def test_on_errors_of_limited_routes(self, client, user, catalog) -> None:
        missing = await client.get("/v1/orders/999999", headers=user.headers)
        assert missing.status_code == 404
        assert limits_of(missing)[:2] == (1200, 1199)
        invalid = await client.get("/v1/orders?limit=0", headers=user.headers)
        assert invalid.status_code == 422
        assert limits_of(invalid)[:2] == (1200, 1198)
        bad_body = await create(client, user, {"quantity": 1})
        assert bad_body.status_code == 422
        assert limits_of(bad_body)[:2] == (1200, 1199)
        no_offer = await create(client, user, {"catalog_product_id": catalog.cp, "max_price": 1})
        assert no_offer.json()["error"]["code"] == "NO_OFFER_AVAILABLE"
        assert limits_of(no_offer)[:2] == (1200, 1198)

    async def test_429_envelope_and_retry_after(self, client, user, set_limits) -> None:
        set_limits(balance=1)
        await balance(client, user)
        refused = await balance(client, user)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert refused.json()["success"] is False
        assert error["code"] == "RATE_LIMIT_EXCEEDED"
        assert error["details"] == {"group": "balance", "limit": 1, "window_seconds": 60}
        retry_after = int(refused.headers["retry-after"])
        limit, remaining, reset = limits_of(refused)
        assert (limit, remaining) == (1, 0)
        assert retry_after == reset == 60  # the clock stands still: the whole window is left
        assert refused.headers["x-request-id"]

    async def test_not_on_unauthenticated_or_admin_requests(self, client, admin) -> None:
        anonymous = await client.get("/v1/balance")
        wrong = await client.get("/v1/balance", headers={"Authorization": "Bearer sg_nope"})
        operator = await client.get("/admin/whoami", headers=admin)
        assert [r.status_code for r in (anonymous, wrong, operator)] == [401, 401, 200]
        for response in (anonymous, wrong, operator):
            assert not any(h in response.headers for h in LIMIT_HEADERS)
            assert "retry-after" not in response.headers

    async def test_a_window_ends_and_the_budget_is_whole_again(
        self, client, user, set_limits, clock
    ) -> None:
        set_limits(balance=1)
        assert (await balance(client, user)).status_code == 200
        clock.advance(59)
        refused = await balance(client, user)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        clock.advance(1)  # the window opened by the first request ends
        again = await balance(client, user)
        assert again.status_code == 200 and limits_of(again) == (1, 0, 60)


class TestV1AndV2ShareOneBudget:
    async def test_reads_on_both_versions_count_together(self, client, user, set_limits) -> None:
        set_limits(order_reads=3)
        paths = ["/v1/orders/active", "/v2/orders/active", "/v1/orders/active"]
        remaining = [limits_of(await client.get(p, headers=user.headers))[1] for p in paths]
        assert remaining == [2, 1, 0]
        refused = await client.get("/v2/orders/active", headers=user.headers)
        assert refused.status_code == 429
        assert refused.json()["error"]["details"]["group"] == "order_reads"

    async def test_creates_on_both_versions_count_together(
        self, client, user, catalog: Catalog, set_limits, factory
    ) -> None:
        await factory.rate("USD/IDR", "16250")
        set_limits(order_create=2)
        body = {"product_id": catalog.economy.id}
        assert (await create(client, user, body)).status_code == 200
        v2 = await client.post("/v2/orders/create", json=body, headers=user.headers)
        assert v2.status_code == 200 and limits_of(v2)[1] == 0
        assert (await create(client, user, body)).status_code == 429


class TestRefusedRequestsStoreNothing:
    async def test_a_429_is_not_saved_under_the_idempotency_key(
        self, client, user, catalog: Catalog, set_limits
    ) -> None:
        set_limits(order_create=1)
        body = {"product_id": catalog.economy.id}
        assert (await create(client, user, body, key="first")).status_code == 200
        assert (await create(client, user, body, key="second")).status_code == 429
        set_limits(order_create=5)
        retried = await create(client, user, body, key="second")
        assert retried.status_code == 200 and len(retried.json()["data"]["orders"]) == 1


class TestOverrides:
    async def test_an_override_replaces_the_default_for_that_account(
        self, client, user, factory, admin, set_limits
    ) -> None:
        other = await factory.account()
        put = await client.put(
            f"/admin/accounts/{user.id}/rate-limits/balance", json={"limit": 2}, headers=admin
        )
        assert put.status_code == 200, put.text
        statuses = [(await balance(client, user)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert limits_of(await balance(client, other))[:2] == (600, 599)

        cleared = await client.delete(
            f"/admin/accounts/{user.id}/rate-limits/balance", headers=admin
        )
        assert cleared.status_code == 200
        back = await balance(client, user)
        # The count of the window is kept: 4 requests so far.
        assert back.status_code == 200 and limits_of(back)[:2] == (600, 596)

    async def test_a_zero_limit_refuses_the_group(self, client, user, admin) -> None:
        await client.put(
            f"/admin/accounts/{user.id}/rate-limits/order_reads", json={"limit": 0}, headers=admin
        )
        refused = await client.get("/v1/orders", headers=user.headers)
        assert refused.status_code == 429 and limits_of(refused)[:2] == (0, 0)
        assert (await balance(client, user)).status_code == 200

    async def test_other_processes_see_it_within_the_cache_time(
        self, client, user, sessionmaker, rate_limits: RateLimits
    ) -> None:
        """A change made elsewhere (the CLI, another process) is read after the cache."""
        from app.ratelimit import service

        assert limits_of(await balance(client, user))[0] == 600  # now cached: no override
        async with sessionmaker() as session, session.begin():
            await service.set_override(session, user.id, "balance", 7)
        assert limits_of(await balance(client, user))[0] == 600
        assert rate_limits.limiter is not None
        rate_limits.limiter.overrides.forget()  # what the cache's expiry does
        assert limits_of(await balance(client, user))[0] == 7


@pytest.mark.parametrize("enabled", [False])
async def test_limits_can_be_switched_off(
    enabled, client, user, rate_limits: RateLimits, monkeypatch
) -> None:
    monkeypatch.setattr(rate_limits, "limiter", None)
    response = await balance(client, user)
    assert response.status_code == 200
    assert not any(h in response.headers for h in LIMIT_HEADERS)
