"""smscode.gg as an upstream, against the fake speaking its /v1 API."""

from decimal import Decimal

import pytest

from app.providers import smscode as smscode_module
from app.providers.base import (
    CancelTooEarly,
    ConfigError,
    Indeterminate,
    Money,
    OutOfFunds,
    Purchase,
    Rejected,
    Unavailable,
    UpstreamError,
    UpstreamState,
)
from app.providers.smscode import SmscodeConfig, SmscodeProvider
from tests.fakes import FakeSmscode

TOKEN = "smk_live_7a1f0c9e33"


class Clock:
    def __init__(self) -> None:
        self.now = 1_772_013_600.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeSmscode:
    return FakeSmscode(TOKEN, clock=clock)


@pytest.fixture
async def smscode(fake: FakeSmscode):  # type: ignore[no-untyped-def]
    provider = SmscodeProvider(SmscodeConfig(TOKEN, retry_backoff=0.0), transport=fake.transport())
    yield provider
    await provider.aclose()


def no_token(exc: BaseException) -> None:
    assert TOKEN not in str(exc) and TOKEN not in repr(exc.args)


class TestCatalog:
    async def test_products_become_tiers(self, smscode: SmscodeProvider) -> None:
        catalog = await smscode.catalog()
        indonesia = next(c for c in catalog.countries if c.code == "ID")
        assert (indonesia.iso_code, indonesia.dial_code, indonesia.name) == (
            "ID",
            "62",
            "Indonesia",
        )
        whatsapp = next(s for s in catalog.services if s.code == "wa")
        assert (whatsapp.slug, whatsapp.name) == ("wa", "WhatsApp")
        offers = {o.upstream_key: o for o in catalog.offers}
        assert set(offers) == {"142", "143", "150"}  # 151 is sold out, so not listed
        assert offers["142"].cost == Decimal(15000) and offers["142"].currency == "IDR"
        assert (offers["142"].country_code, offers["142"].service_code) == ("ID", "wa")
        assert offers["142"].available == 42 and offers["142"].operator_code is None
        assert offers["143"].operator_code == "telkomsel"
        assert [(o.country_code, o.code, o.name) for o in catalog.operators] == [
            ("ID", "telkomsel", "Telkomsel")
        ]

    async def test_every_page_is_read(
        self, smscode: SmscodeProvider, fake: FakeSmscode, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(smscode_module, "PAGE_SIZE", 2)
        catalog = await smscode.catalog()
        assert len(catalog.offers) == 3
        pages = [c.params["page"] for c in fake.calls if c.action == "GET /catalog/products"]
        assert pages == ["1", "2"]

    async def test_a_wrong_token_is_a_config_error(self, fake: FakeSmscode) -> None:
        provider = SmscodeProvider(SmscodeConfig("wrong-" + TOKEN), transport=fake.transport())
        with pytest.raises(ConfigError, match="UNAUTHORIZED") as caught:
            await provider.catalog()
        await provider.aclose()
        assert "wrong-" not in str(caught.value)


class TestBuy:
    async def test_create_by_product_id(self, smscode: SmscodeProvider, fake: FakeSmscode) -> None:
        purchase = await smscode.buy("142", "77")
        assert purchase == Purchase("1001", fake.orders[1001].phone_number)
        call = fake.calls[-1]
        assert call.params["idempotency_key"] == "smsgate-77"
        assert call.params["body"] == {"product_id": 142, "quantity": 1}
        assert fake.balance == 500_000 - 15_000

    @pytest.mark.parametrize(
        ("code", "status", "error"),
        [
            ("UNAUTHORIZED", 401, ConfigError),
            ("FORBIDDEN", 403, ConfigError),
            ("NOT_FOUND", 404, Rejected),
            ("VALIDATION_ERROR", 422, Rejected),
            ("PROVIDER_ERROR", 422, Rejected),
            ("NO_OFFER_AVAILABLE", 422, Rejected),
            ("IDEMPOTENCY_KEY_REUSED", 422, Rejected),
            ("INSUFFICIENT_BALANCE", 409, OutOfFunds),
            ("CONFLICT", 409, Rejected),
            ("CANCEL_TOO_EARLY", 409, CancelTooEarly),
            ("REQUEST_IN_PROGRESS", 409, Indeterminate),
            ("RATE_LIMIT_EXCEEDED", 429, Unavailable),
            ("TEMP_BANNED_ABUSE_GUARD", 429, Unavailable),
            ("SERVICE_UNAVAILABLE", 503, Unavailable),
            ("FX_RATE_UNAVAILABLE", 503, Unavailable),
            ("INTERNAL_ERROR", 500, Unavailable),
            ("SOMETHING_NEW", 422, Rejected),
            ("SOMETHING_NEW", 502, Unavailable),
        ],
    )
    async def test_every_error_code_maps(
        self,
        smscode: SmscodeProvider,
        fake: FakeSmscode,
        code: str,
        status: int,
        error: type[UpstreamError],
    ) -> None:
        fake.error_next(code, status, action="POST /orders/create")
        with pytest.raises(error) as caught:
            await smscode.buy("142", "1")
        assert issubclass(type(caught.value), error) and code in caught.value.message
        assert [c.action for c in fake.calls].count("POST /orders/create") == 1

    async def test_real_refusals(self, smscode: SmscodeProvider, fake: FakeSmscode) -> None:
        fake.set_stock(142, 0)
        with pytest.raises(Rejected, match="NO_OFFER_AVAILABLE"):
            await smscode.buy("142", "1")
        fake.balance = 100
        with pytest.raises(OutOfFunds, match="INSUFFICIENT_BALANCE"):
            await smscode.buy("150", "2")
        with pytest.raises(Rejected):
            await smscode.buy("abc", "3")

    @pytest.mark.parametrize("kind", ["html", "empty", "garbage", "500", "connect"])
    async def test_broken_answers(
        self, smscode: SmscodeProvider, fake: FakeSmscode, kind: str
    ) -> None:
        fake.fail_next(kind, action="POST /orders/create")
        with pytest.raises(Unavailable) as caught:
            await smscode.buy("142", "1")
        no_token(caught.value)
        assert not fake.orders and fake.actions().count("POST /orders/create") == 1

    async def test_429_carries_retry_after(
        self, smscode: SmscodeProvider, fake: FakeSmscode
    ) -> None:
        fake.fail_next("429", retry_after=42, action="POST /orders/create")
        with pytest.raises(Unavailable) as caught:
            await smscode.buy("142", "1")
        assert caught.value.retry_after == 42


class TestFindPurchase:
    @pytest.mark.parametrize("kind", ["lost", "slow"])
    async def test_a_lost_answer_is_found_by_replaying_the_key(
        self, smscode: SmscodeProvider, fake: FakeSmscode, kind: str
    ) -> None:
        fake.fail_next(kind, action="POST /orders/create")
        with pytest.raises(Indeterminate):
            await smscode.buy("142", "9")
        found = await smscode.find_purchase("9")
        assert found == Purchase("1001", fake.orders[1001].phone_number)
        assert len(fake.orders) == 1 and fake.balance == 500_000 - 15_000  # bought once

    async def test_a_refused_create_is_not_a_purchase(
        self, smscode: SmscodeProvider, fake: FakeSmscode
    ) -> None:
        fake.set_stock(142, 0)
        with pytest.raises(Rejected):
            await smscode.buy("142", "9")
        fake.set_stock(142, 5)
        assert await smscode.find_purchase("9") is None  # the saved refusal is replayed
        assert not fake.orders

    async def test_still_running_stays_indeterminate(
        self, smscode: SmscodeProvider, fake: FakeSmscode
    ) -> None:
        fake.fail_next("reset", action="POST /orders/create")
        with pytest.raises(Indeterminate):
            await smscode.buy("142", "9")
        fake.in_progress.add("smsgate-9")
        with pytest.raises(Indeterminate, match="REQUEST_IN_PROGRESS"):
            await smscode.find_purchase("9")

    async def test_unknown_references(self, smscode: SmscodeProvider, fake: FakeSmscode) -> None:
        assert await smscode.find_purchase("12345") is None
        assert not fake.calls  # nothing is sent without the body we used


class TestLifecycle:
    async def test_sms_finish_and_reactivation(
        self, smscode: SmscodeProvider, fake: FakeSmscode
    ) -> None:
        purchase = await smscode.buy("142", "1")
        order_id = purchase.upstream_order_id
        assert (await smscode.status(order_id)).state is UpstreamState.WAITING
        fake.deliver_sms(order_id, "Your WhatsApp code 740-279")
        status = await smscode.status(order_id)
        assert status.state is UpstreamState.RECEIVED
        assert status.messages == ("Your WhatsApp code 740-279",)
        assert await smscode.resend(order_id) is True
        fake.deliver_sms(order_id, "Your WhatsApp code 111-222")
        assert (await smscode.status(order_id)).messages[-1] == "Your WhatsApp code 111-222"
        assert len((await smscode.status(order_id)).messages) == 2
        await smscode.finish(order_id)
        await smscode.finish(order_id)  # CONFLICT, but it is COMPLETED: released already
        assert (await smscode.status(order_id)).state is UpstreamState.FINISHED
        assert await smscode.reactivation_cost(order_id) == Money(Decimal(15000), "IDR")
        child = await smscode.reactivate(order_id, "2")
        assert child.phone_number == purchase.phone_number
        assert fake.calls[-1].params["idempotency_key"] == "smsgate-2"

    async def test_cancel_window_and_retry(
        self, smscode: SmscodeProvider, fake: FakeSmscode, clock: Clock
    ) -> None:
        assert smscode.capabilities.min_cancel_seconds == 120
        order_id = (await smscode.buy("142", "1")).upstream_order_id
        with pytest.raises(CancelTooEarly):
            await smscode.cancel(order_id)
        clock.now += 120
        await smscode.cancel(order_id)
        await smscode.cancel(order_id)  # our retry: CONFLICT, already CANCELED → done
        assert (await smscode.status(order_id)).state is UpstreamState.CANCELED
        assert fake.balance == 500_000

    async def test_cancel_after_an_sms_is_refused(
        self, smscode: SmscodeProvider, fake: FakeSmscode, clock: Clock
    ) -> None:
        order_id = (await smscode.buy("142", "1")).upstream_order_id
        with pytest.raises(Rejected, match="CONFLICT"):
            await smscode.finish(order_id)  # no SMS yet
        clock.now += 300
        fake.deliver_sms(order_id, "1234 is your code")
        with pytest.raises(Rejected, match="OTP_RECEIVED"):
            await smscode.cancel(order_id)

    async def test_expired_upstream_is_canceled(
        self, smscode: SmscodeProvider, fake: FakeSmscode
    ) -> None:
        order_id = (await smscode.buy("142", "1")).upstream_order_id
        fake.expire(order_id)
        assert (await smscode.status(order_id)).state is UpstreamState.CANCELED
        with pytest.raises(Rejected, match="NOT_FOUND"):
            await smscode.status("999999")

    async def test_reads_are_retried(self, smscode: SmscodeProvider, fake: FakeSmscode) -> None:
        order_id = (await smscode.buy("142", "1")).upstream_order_id
        fake.fail_next("500", action="GET /orders/{id}")
        fake.fail_next("reset", action="GET /orders/{id}")
        assert (await smscode.status(order_id)).state is UpstreamState.WAITING
        assert fake.actions().count("GET /orders/{id}") == 3
        fake.fail_next("html", action="GET /balance", times=3)
        with pytest.raises(Unavailable):
            await smscode.balance()
        assert await smscode.balance() == Money(Decimal(485_000), "IDR")

    async def test_a_lost_cancel_answer_is_indeterminate(
        self, smscode: SmscodeProvider, fake: FakeSmscode, clock: Clock
    ) -> None:
        order_id = (await smscode.buy("142", "1")).upstream_order_id
        clock.now += 200
        fake.fail_next("lost", action="POST /orders/cancel")
        with pytest.raises(Indeterminate):
            await smscode.cancel(order_id)
        await smscode.cancel(order_id)  # the retry finds it canceled
        assert fake.actions().count("POST /orders/cancel") == 2


async def test_over_real_http(fake: FakeSmscode, clock: Clock) -> None:
    with fake.serve() as base_url:
        provider = SmscodeProvider(SmscodeConfig(TOKEN, base_url=base_url, read_timeout=0.5))
        try:
            assert len((await provider.catalog()).offers) == 3
            fake.delay = 1.0
            fake.fail_next("slow", action="POST /orders/create")
            with pytest.raises(Indeterminate) as caught:
                await provider.buy("142", "5")
            no_token(caught.value)
            found = await provider.find_purchase("5")
            assert found is not None and found.upstream_order_id == "1001"
            fake.deliver_sms(found.upstream_order_id, "G-123456 is your code")
            status = await provider.status(found.upstream_order_id)
            assert status.messages == ("G-123456 is your code",)
        finally:
            await provider.aclose()
    assert len(fake.orders) == 1
