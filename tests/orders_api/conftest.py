"""Fixtures of the /v1/orders API tests: the sandbox catalog, a funded user, no-SMS mode."""

import dataclasses

import pytest

from tests.factories import AccountWithToken, Factory
from tests.orders_api.support import (
    START,
    Catalog,
    load_catalog,
)


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
