"""Providers that recover: a paused provider is probed with a balance read and serves again
as soon as it can (out of funds: once its balance covers its cheapest offer), and what one
process knows of a provider's health (a pause, a resume, an outage) reaches the others
through provider_health."""

import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from click.testing import Result
from sqlalchemy import select, text
from typer.testing import CliRunner

from app.catalog import health, jobs
from app.catalog.health import HealthWriter
from app.catalog.models import Product, Provider
from app.cli.main import cli
from app.config import Settings
from app.db.engine import make_engine
from app.kit import clock as app_clock
from app.main import create_app
from app.providers.errors import Unavailable
from app.providers.guard import GuardedProvider
from app.providers.pauses import PauseReason
from app.providers.registry import build_providers, close_providers
from app.workers.provider_probe import ProviderProbe
from tests.conftest import FakeClock
from tests.factories import Factory
from tests.fakes import FakeOtpget


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(app_clock, "utcnow", fake)
    return fake


@pytest.fixture
def otpget(fake_clock: FakeClock) -> Iterator[tuple[FakeOtpget, str]]:
    fake = FakeOtpget("otp-key-probe", clock=lambda: fake_clock.now.timestamp())
    with fake.serve() as url:
        yield fake, url + "/stubs"


@pytest.fixture
async def gateway(
    settings: Settings, otpget: tuple[FakeOtpget, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    for name, value in {"OTPGET_BASE_URL": otpget[1], "OTPGET_API_KEY": "otp-key-probe",
                        "OTPGET_TYPES": "1,2"}.items():  # fmt: skip
        monkeypatch.setenv(f"SMSGATE_{name}", value)
    configured = settings.model_copy(update={"providers": ["otpget"], "upstream_read_retries": 0})
    application = create_app(configured)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            application.state.client = client
            yield application


async def test_out_of_funds_serves_again_once_the_wallet_is_refilled(
    gateway, otpget, factory: Factory, sessionmaker, fake_clock: FakeClock
):
    fake, _ = otpget
    runtime = gateway.state.runtime
    client: httpx.AsyncClient = gateway.state.client
    await factory.rate("PKR/IDR", "58")
    (outcome,) = await jobs.sync_all(sessionmaker, runtime.providers, runtime.settings)
    assert outcome.error is None, outcome
    async with sessionmaker() as session:
        product_id, cheapest = (
            await session.execute(
                select(Product.id, Product.upstream_cost)
                .join(Provider, Provider.id == Product.provider_id)
                .where(Provider.code == "otpget", Product.upstream_key == "2:61:102")
            )
        ).one()
        lowest = await session.scalar(select(text("min(upstream_cost) FROM products")))
    assert cheapest == Decimal(40) and lowest > 10
    user = await factory.account(balance=100_000)

    async def create() -> httpx.Response:
        return await client.post("/v1/orders/create", json={"product_id": product_id},
                                 headers=user.headers)  # fmt: skip

    guard: GuardedProvider = runtime.providers["otpget"]
    # The wallet runs dry: OTPGet answers NO_BALANCE and the provider is paused.
    fake.balance = Decimal("10")
    refused = await create()
    assert refused.status_code == 422, refused.text
    assert guard.paused_for is PauseReason.FUNDS and not guard.usable()
    prober = ProviderProbe(runtime.engine, runtime.providers, runtime.settings)

    # Still too little for the cheapest offer: a probe reads the balance and keeps it paused.
    fake_clock.advance(10)
    assert await prober.probe() == []
    assert not guard.usable()
    # Topped up: the next probe round (10 s later, not 15 minutes) resumes it.
    fake.balance = Decimal("5000")
    fake_clock.advance(10)
    assert await prober.probe() == ["otpget"]
    assert guard.usable()
    bought = await create()
    assert bought.status_code == 200, bought.text
    # The probes only read the balance: the one purchase after the refill, none by probing.
    actions = [c.action for c in fake.calls]
    assert actions.count("getNumber") == 2  # the refused one and the one after the refill
    assert actions.count("getBalance") >= 2
    # The resume is on record for the other processes.
    await runtime.health_writer.drain()
    async with sessionmaker() as session:
        (row,) = [r for r in await health.status(session) if r["code"] == "otpget"]
    assert row["breaker_state"] == "closed"


async def test_a_probe_leaves_an_ops_pause_and_a_failing_provider_alone(
    app, sandbox, settings, clock: FakeClock
):
    runtime = app.state.runtime
    guard: GuardedProvider = runtime.providers["sandbox"]
    prober = ProviderProbe(runtime.engine, runtime.providers, settings)
    guard.pause(60)
    assert await prober.probe() == []
    assert guard.paused_for is PauseReason.OPS
    guard.resume()
    for _ in range(settings.breaker_failures):
        guard.breaker.failure("502")
    guard.inner.balance = _failing  # type: ignore[attr-defined]
    assert await prober.probe() == []
    assert guard.paused_for is PauseReason.BREAKER
    del guard.inner.balance  # type: ignore[attr-defined]
    assert await prober.probe() == ["sandbox"]  # answered: the breaker closes
    assert guard.usable()


async def _failing() -> None:
    raise Unavailable("still down")


async def test_two_processes_share_pauses_resumes_and_outages(
    database_url: str, settings: Settings, factory: Factory, clock: FakeClock
):
    await factory.sandbox_catalog()
    engines = [make_engine(database_url) for _ in range(2)]
    writers = [HealthWriter(engine) for engine in engines]
    here, there = (build_providers(settings, writer) for writer in writers)
    probes = [ProviderProbe(e, p, settings, probing=False)
              for e, p in zip(engines, (here, there), strict=True)]  # fmt: skip
    a: GuardedProvider = here["sandbox"]  # type: ignore[assignment]
    b: GuardedProvider = there["sandbox"]  # type: ignore[assignment]

    async def settle() -> list[list[str]]:
        for writer in writers:
            await writer.drain()
        clock.advance(1)
        return [await probe.refresh() for probe in probes]

    try:
        # An outage seen by A: B stops buying from it too, without a call of its own.
        for _ in range(settings.breaker_failures):
            a.breaker.failure("502 Bad Gateway")
        a._report()
        assert await settle() == [[], ["sandbox"]]
        assert not b.usable() and b.paused_for is PauseReason.BREAKER
        # B's probe finds it usable again and resumes it: A follows.
        assert b.resume()
        assert await settle() == [["sandbox"], []]
        assert a.usable() and b.usable()
        # An ops pause recorded without any guard (the CLI's way) reaches both.
        async with factory.sessionmaker() as session, session.begin():
            assert await health.record_pause(session, "sandbox", 300) is not None
        assert await settle() == [["sandbox"], ["sandbox"]]
        assert a.paused_for is b.paused_for is PauseReason.OPS
        with pytest.raises(Unavailable):
            await b.buy("k", "ref-1")
        # Nothing new: a refresh changes nothing.
        assert await settle() == [[], []]
        async with factory.sessionmaker() as session, session.begin():
            await health.record_pause(session, "sandbox", None)
        assert await settle() == [["sandbox"], ["sandbox"]]
        assert a.usable() and b.usable()
    finally:
        for providers in (here, there):
            await close_providers(providers)
        for engine in engines:
            await engine.dispose()


def test_pause_and_resume_from_the_command_line(database_url: str) -> None:
    """Plain `def`: the command runs its own event loop. What it records is what every
    process adopts at its next refresh (test_two_processes_share_pauses_resumes_and_outages)."""

    def smsgate(*args: str) -> Result:
        result = CliRunner().invoke(cli, list(args), env={"DATABASE_URL": database_url})
        assert "Traceback" not in result.output
        return result

    assert smsgate("providers", "sync").exit_code == 0
    paused = smsgate("providers", "pause", "sandbox", "--seconds", "120")
    assert paused.exit_code == 0, paused.stderr
    assert json.loads(paused.stdout)["breaker_state"] == "open"
    (row,) = json.loads(smsgate("providers", "status").stdout)["providers"]
    assert (row["breaker_state"], row["last_error"]) == ("open", "paused by ops")
    assert row["opened_until"] is not None

    resumed = smsgate("providers", "resume", "sandbox")
    assert resumed.exit_code == 0, resumed.stderr
    (row,) = json.loads(smsgate("providers", "status").stdout)["providers"]
    assert row["breaker_state"] == "closed" and row["opened_until"] is None

    unknown = smsgate("providers", "resume", "nope")
    assert unknown.exit_code == 2 and "unknown provider 'nope'" in unknown.stderr
    assert smsgate("providers", "pause", "sandbox", "--seconds", "0").exit_code == 2
