"""The gateway against three real-protocol upstreams: OTPGet activations, OTPGet cheap
numbers and smscode.gg, each a fake speaking its protocol over real HTTP on loopback.

One story, in order: sync fills the catalog with PKR prices converted to IDR; a routed
order lands on the cheapest provider and fails over when it is out of stock; its SMS
arrives through the poller and it finishes; a cancel inside OTPGet's 2-minute window is
refused and after it refunds; a provider answering garbage opens its breaker and routing
stops calling it; an smscode.gg order runs its course; `audit` is clean at the end.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, text

from app.catalog import jobs
from app.catalog.models import Product, Provider
from app.catalog.provider_settings import set_mapping
from app.config import Settings
from app.kit import clock as app_clock
from app.ledger import audit
from app.main import create_app
from tests.conftest import FakeClock
from tests.factories import Factory, poller_for
from tests.fakes import FakeOtpget, FakeSmscode

PKR_IDR = "58"


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(app_clock, "utcnow", fake)
    return fake


@pytest.fixture
def upstreams(fake_clock: FakeClock) -> Iterator[dict[str, Any]]:
    now = lambda: fake_clock.now.timestamp()  # noqa: E731
    otpget = FakeOtpget("otp-key-e2e", clock=now)
    smscode = FakeSmscode("sms-token-e2e", clock=now)
    with ExitStack() as stack:
        yield {
            "otpget": otpget,
            "smscode": smscode,
            "otpget_url": stack.enter_context(otpget.serve()) + "/stubs",
            "smscode_url": stack.enter_context(smscode.serve()),
        }


@pytest.fixture
async def gateway(
    settings: Settings, upstreams, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    # The adapters read their own settings blocks when the app starts.
    for name, value in {
        "OTPGET_BASE_URL": upstreams["otpget_url"],
        "OTPGET_API_KEY": "otp-key-e2e",
        "OTPGET_TYPES": "1,2",
        "SMSCODE_BASE_URL": upstreams["smscode_url"],
        "SMSCODE_TOKEN": "sms-token-e2e",
    }.items():
        monkeypatch.setenv(f"SMSGATE_{name}", value)
    configured = settings.model_copy(
        update={
            "providers": ["otpget", "otpget_cheap", "smscode"],
            "breaker_failures": 3,
            "breaker_cooldown_seconds": 60,
            "upstream_read_retries": 0,
        }
    )
    application = create_app(configured)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            application.state.client = client
            yield application


async def _umbrella(sessionmaker, provider: str, upstream_key: str) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                select(Product.catalog_product_id)
                .join(Provider, Provider.id == Product.provider_id)
                .where(Provider.code == provider, Product.upstream_key == upstream_key)
            )
        )


async def _provider_of(sessionmaker, order_id: int) -> str:
    async with sessionmaker() as session:
        return str(
            await session.scalar(
                text("SELECT p.code FROM orders o JOIN providers p ON p.id = o.provider_id "
                     "WHERE o.id = :id"), {"id": order_id},
            )
        )  # fmt: skip


async def test_the_gateway_over_three_real_protocols(
    gateway, upstreams, factory: Factory, sessionmaker, fake_clock: FakeClock
):
    client: httpx.AsyncClient = gateway.state.client
    otpget: FakeOtpget = upstreams["otpget"]
    smscode: FakeSmscode = upstreams["smscode"]
    providers = gateway.state.runtime.providers
    poller = poller_for(gateway.state.runtime.orders)

    # --- sync: PKR converted, unmapped reported; an ops mapping puts the cheap server
    # under WhatsApp/Pakistan next to the activations -------------------------------------
    await factory.rate("PKR/IDR", PKR_IDR)
    outcomes = {
        o.provider: o
        for o in await jobs.sync_all(sessionmaker, providers, gateway.state.runtime.settings)
    }
    assert all(o.error is None for o in outcomes.values()), outcomes
    assert "1 (Random Facebook)" in outcomes["otpget_cheap"].report.unmapped_countries
    async with sessionmaker() as session, session.begin():
        await set_mapping(session, "otpget_cheap", "service", "Pakistan Server 2", "whatsapp")
    await jobs.sync_all(sessionmaker, providers, gateway.state.runtime.settings)

    umbrella = await _umbrella(sessionmaker, "otpget", "1:61:102")
    async with sessionmaker() as session:
        tiers = {
            (code, key): (cost, price)
            for code, key, cost, price in await session.execute(
                select(Provider.code, Product.upstream_key, Product.cost, Product.price)
                .join(Provider, Provider.id == Product.provider_id)
                .where(Product.catalog_product_id == umbrella)
            )
        }
    assert tiers == {
        ("otpget", "1:61:102"): (60 * 58, 4_200),  # 3,480 + 20 % = 4,176 → 4,200
        ("otpget", "2:61:102"): (40 * 58, 2_800),  # 2,320 + 20 % = 2,784 → 2,800
        ("otpget_cheap", "1:2"): (50 * 58, 3_500),  # 2,900 + 20 % = 3,480 → 3,500
    }
    smscode_tier = await _umbrella(sessionmaker, "smscode", "142")
    assert smscode_tier != umbrella

    user = await factory.account(balance=100_000)
    routed = {"catalog_product_id": umbrella}

    async def create(body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post("/v1/orders/create", json=body, headers=user.headers)
        assert response.status_code == 200, response.text
        return response.json()["data"]["orders"][0]

    # --- cheapest first, then failover when it is out of stock -------------------------------
    first = await create(routed)
    assert await _provider_of(sessionmaker, first["id"]) == "otpget"
    assert first["amount"] == 2_800
    async with sessionmaker() as session:
        kept = (
            await session.execute(
                text("SELECT cost, upstream_cost, upstream_currency FROM orders WHERE id = :id"),
                {"id": first["id"]},
            )
        ).one()
    assert (kept.cost, kept.upstream_cost, kept.upstream_currency) == (2_320, 40, "PKR")
    otpget.set_stock("2:61:102", 0)
    second = await create(routed)
    assert await _provider_of(sessionmaker, second["id"]) == "otpget_cheap"
    assert second["amount"] == 3_500

    # --- the SMS arrives through the poller; finish ---------------------------------------
    upstream_first = next(o for o in otpget.orders.values() if o.tier == "2:61:102")
    otpget.deliver_sms(upstream_first.id, "847293")
    fake_clock.advance(5)
    await poller.tick()
    got = (await client.get(f"/v1/orders/{first['id']}", headers=user.headers)).json()["data"]
    assert got["status"] == "OTP_RECEIVED" and got["otp_code"] == "847293"
    finished = await client.post("/v1/orders/finish", json={"id": first["id"]},
                                 headers=user.headers)  # fmt: skip
    assert finished.status_code == 200 and finished.json()["data"]["status"] == "COMPLETED"

    # --- cancel: refused inside OTPGet's 2 minutes, refunded after ---------------------------
    early = await client.post("/v1/orders/cancel", json={"id": second["id"]}, headers=user.headers)
    assert early.status_code == 409 and early.json()["error"]["code"] == "CANCEL_TOO_EARLY"
    fake_clock.advance(121)
    balance_before = (await client.get("/v1/balance", headers=user.headers)).json()["data"]
    canceled = await client.post("/v1/orders/cancel", json={"id": second["id"]},
                                 headers=user.headers)  # fmt: skip
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["data"]["status"] == "CANCELED"
    balance_after = (await client.get("/v1/balance", headers=user.headers)).json()["data"]
    assert balance_after["balance"] == balance_before["balance"] + 3_500
    assert any(c.params.get("status") == "8" for c in otpget.calls if c.action == "setStatus")

    # --- garbage opens otpget's breaker; routing stops calling it ----------------------------
    otpget.set_stock("2:61:102", 50)
    for _ in range(3):
        otpget.fail_next("garbage", action="getNumber")
        order = await create(routed)  # each fails over to the cheap numbers
        assert await _provider_of(sessionmaker, order["id"]) == "otpget_cheap"
    assert not providers["otpget"].usable()
    buys_before = sum(1 for c in otpget.calls if c.action == "getNumber")
    order = await create(routed)
    assert await _provider_of(sessionmaker, order["id"]) == "otpget_cheap"
    assert sum(1 for c in otpget.calls if c.action == "getNumber") == buys_before
    status = (await client.get("/admin/whoami")).status_code  # admin API off: not configured
    assert status in (401, 403)

    # --- smscode.gg as an upstream: buy by product, SMS through the poller, finish -----------
    async with sessionmaker() as session:
        product_id = await session.scalar(
            select(Product.id).join(Provider, Provider.id == Product.provider_id)
            .where(Provider.code == "smscode", Product.upstream_key == "142")
        )  # fmt: skip
    bought = await create({"product_id": product_id})
    assert await _provider_of(sessionmaker, bought["id"]) == "smscode"
    (upstream_id,) = [o.id for o in smscode.orders.values()]
    smscode.deliver_sms(upstream_id, "Your WhatsApp code is 552-019")
    fake_clock.advance(5)
    await poller.tick()
    got = (await client.get(f"/v1/orders/{bought['id']}", headers=user.headers)).json()["data"]
    assert got["status"] == "OTP_RECEIVED" and got["otp_code"] == "552019"
    done = await client.post("/v1/orders/finish", json={"id": bought["id"]}, headers=user.headers)
    assert done.json()["data"]["status"] == "COMPLETED"

    # --- the books balance ---------------------------------------------------------------
    async with sessionmaker() as session:
        report = await audit.run(session)
    assert report.ok, report.problems
    # No upstream credential leaked into what the gateway stored about its providers.
    async with sessionmaker() as session:
        stored = str((await session.execute(text("SELECT * FROM provider_health"))).all())
    assert "otp-key-e2e" not in stored and "sms-token-e2e" not in stored
