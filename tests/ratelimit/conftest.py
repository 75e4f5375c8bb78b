"""Fixtures of the rate-limit tests: small limits on the shared test app, a catalog, a
funded user, the admin token, and time that moves only when a test says so."""

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.kit import clock as app_clock
from app.ratelimit.groups import Group
from app.ratelimit.state import RateLimits
from tests.factories import AccountWithToken, Factory
from tests.orders_api.support import START, Catalog, load_catalog

ADMIN_TOKEN = "admin-test-token-0123456789"


@pytest.fixture(autouse=True)
def _frozen_time(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test with the app runs on the fake clock: windows and bans end when the test
    calls clock.advance(), never mid-test because the wall clock crossed a window
    boundary, and no test sleeps to see them end. The retry timer's monotonic clock moves
    with it. Pure tests (no database) do not pay for the app."""
    if "database_url" not in request.fixturenames:
        return
    fake = request.getfixturevalue("clock")
    monkeypatch.setattr(app_clock, "monotonic", lambda: fake.now.timestamp())


@pytest.fixture
def rate_limits(app: FastAPI) -> RateLimits:
    limits: RateLimits = app.state.runtime.rate_limits
    assert limits.limiter is not None
    return limits


@pytest.fixture
def set_limits(rate_limits: RateLimits, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Lower the default limits of some groups for this test: set_limits(balance=3)."""
    assert rate_limits.limiter is not None
    defaults = dict(rate_limits.limiter.defaults)
    monkeypatch.setattr(rate_limits.limiter, "defaults", defaults)

    def apply(**limits: int) -> None:
        for name, limit in limits.items():
            defaults[Group(name)] = limit

    return apply


@pytest.fixture
def guard_settings(rate_limits: RateLimits, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Tune the abuse guard for this test: guard_settings(min_failures=3, ban_seconds=1)."""

    def apply(**values: float) -> None:
        for name, value in values.items():
            assert hasattr(rate_limits.guard, name)
            monkeypatch.setattr(rate_limits.guard, name, value)

    return apply


@pytest.fixture
async def catalog(factory: Factory, sessionmaker) -> Catalog:
    await factory.sandbox_catalog()
    return await load_catalog(sessionmaker)


@pytest.fixture
async def user(factory: Factory, catalog: Catalog) -> AccountWithToken:
    return await factory.account(balance=START)


@pytest.fixture
def admin(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(app.state.runtime.settings, "admin_token", SecretStr(ADMIN_TOKEN))
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
