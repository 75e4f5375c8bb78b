"""The abuse guard: client-caused creation failures at a high rate ban creating for a
while; upstream failures never do."""

from datetime import datetime, timedelta

import pytest

from app.ratelimit.state import RateLimits
from tests.factories import AccountWithToken
from tests.orders_api.support import START, Catalog, balance, create


def no_offer(catalog: Catalog) -> dict[str, int]:
    return {"catalog_product_id": catalog.cp, "max_price": 1}


def until_of(response) -> datetime:
    return datetime.fromisoformat(response.json()["error"]["details"]["until"])


@pytest.fixture
def strict(guard_settings) -> None:
    guard_settings(min_failures=3, failure_ratio=0.75, ban_seconds=60)


async def fail_times(client, user, catalog: Catalog, n: int) -> None:
    for _ in range(n):
        response = await create(client, user, no_offer(catalog))
        assert response.json()["error"]["code"] == "NO_OFFER_AVAILABLE", response.text


class TestBan:
    async def test_repeated_no_offer_bans_creating(
        self, client, user, catalog: Catalog, strict, factory, clock
    ) -> None:
        await factory.rate("USD/IDR", "16250")
        await fail_times(client, user, catalog, 3)
        banned_at = clock.now
        clock.advance(5)
        banned = await create(client, user, {"product_id": catalog.economy.id})
        assert banned.status_code == 429
        body = banned.json()
        assert body["success"] is False
        assert body["error"]["code"] == "TEMP_BANNED_ABUSE_GUARD"
        assert body["error"]["details"]["until"].endswith("Z")
        assert until_of(banned) == banned_at + timedelta(seconds=60)
        assert banned.headers["retry-after"] == "55"
        assert "x-ratelimit-remaining" in banned.headers  # a limited route's response
        assert await balance(client, user) == START  # nothing was charged

        v2 = await client.post(
            "/v2/orders/create", json={"product_id": catalog.economy.id}, headers=user.headers
        )
        assert v2.json()["error"]["code"] == "TEMP_BANNED_ABUSE_GUARD"
        reactivate = await client.post(
            "/v1/orders/reactivate", json={"id": 1}, headers=user.headers
        )
        assert reactivate.json()["error"]["code"] == "TEMP_BANNED_ABUSE_GUARD"
        # Only creating is blocked; reads and other accounts are not.
        assert (await client.get("/v1/orders", headers=user.headers)).status_code == 200
        other = await factory.account(balance=START)
        assert (await create(client, other, {"product_id": catalog.economy.id})).status_code == 200

    async def test_insufficient_balance_counts(
        self, client, factory, catalog: Catalog, strict
    ) -> None:
        broke = await factory.account(balance=0)
        for _ in range(3):
            response = await create(client, broke, {"product_id": catalog.economy.id})
            assert response.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
        banned = await create(client, broke, {"product_id": catalog.economy.id})
        assert banned.json()["error"]["code"] == "TEMP_BANNED_ABUSE_GUARD"

    async def test_a_banned_request_stores_nothing_under_its_key(
        self, client, user, catalog: Catalog, strict, rate_limits: RateLimits
    ) -> None:
        await fail_times(client, user, catalog, 3)
        body = {"product_id": catalog.economy.id}
        assert (await create(client, user, body, key="k1")).status_code == 429
        rate_limits.reset()  # the ban ends
        retried = await create(client, user, body, key="k1")
        assert retried.status_code == 200, retried.text


class TestWhatCounts:
    async def test_a_low_failure_ratio_is_not_banned(
        self, client, user, catalog: Catalog, strict
    ) -> None:
        for _ in range(2):
            assert (await create(client, user, {"product_id": catalog.economy.id})).is_success
        await fail_times(client, user, catalog, 4)  # 4 of 6 failed: under 75 %
        assert (await create(client, user, {"product_id": catalog.economy.id})).is_success
        await fail_times(client, user, catalog, 5)  # 9 of 12: 75 %
        banned = await create(client, user, {"product_id": catalog.economy.id})
        assert banned.json()["error"]["code"] == "TEMP_BANNED_ABUSE_GUARD"

    async def test_upstream_failures_never_count(
        self, client, user, catalog: Catalog, strict, sandbox
    ) -> None:
        sandbox.sold_out.update(t.key for t in catalog.tiers)
        for _ in range(6):
            response = await create(client, user, {"catalog_product_id": catalog.cp})
            assert response.json()["error"]["code"] == "PROVIDER_ERROR"
        sandbox.sold_out.clear()
        sandbox.fail_next = ["error"] * 3  # an upstream outage
        for _ in range(3):
            response = await create(client, user, {"product_id": catalog.economy.id})
            assert response.json()["error"]["code"] == "PROVIDER_ERROR"
        after = await create(client, user, {"product_id": catalog.economy.id})
        assert after.is_success, after.text

    async def test_validation_errors_do_not_count(
        self, client, user, catalog: Catalog, strict
    ) -> None:
        for _ in range(5):
            response = await create(client, user, {"product_id": 10**9})
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert (await create(client, user, {"product_id": catalog.economy.id})).is_success

    async def test_idempotent_replays_do_not_count(
        self, client, user, catalog: Catalog, strict
    ) -> None:
        for _ in range(5):
            replay = await create(client, user, no_offer(catalog), key="same")
            assert replay.json()["error"]["code"] == "NO_OFFER_AVAILABLE"
        assert (await create(client, user, {"product_id": catalog.economy.id})).is_success


class TestExpiry:
    async def test_the_ban_ends_and_counting_starts_afresh(
        self, client, user, catalog: Catalog, strict, clock, rate_limits: RateLimits
    ) -> None:
        # At the start of a counting window, so the ban ends inside the same window and
        # "afresh" is the guard's doing, not a new window's.
        clock.advance(-(clock.now.timestamp() % rate_limits.guard.window))
        await fail_times(client, user, catalog, 3)
        clock.advance(59)
        banned = await create(client, user, {"product_id": catalog.economy.id})
        assert banned.status_code == 429 and banned.headers["retry-after"] == "1"
        clock.advance(1)
        assert (await create(client, user, {"product_id": catalog.economy.id})).is_success
        # The failures that caused the ban do not cause another.
        await fail_times(client, user, catalog, 1)
        assert (await create(client, user, {"product_id": catalog.economy.id})).is_success

    async def test_switched_off(
        self, client, user: AccountWithToken, catalog: Catalog, guard_settings
    ) -> None:
        guard_settings(enabled=False, min_failures=1, failure_ratio=0.1)
        await fail_times(client, user, catalog, 3)
        assert (await create(client, user, {"product_id": catalog.economy.id})).is_success
