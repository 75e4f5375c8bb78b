"""The OTPGet activations adapter (handler_api.php) against the fake speaking its protocol."""

import logging
import socket
from decimal import Decimal

import pytest

from app.orders.otp import extract_code
from app.providers.base import (
    CancelTooEarly,
    ConfigError,
    Indeterminate,
    Money,
    NotSupported,
    OutOfFunds,
    Purchase,
    Rejected,
    Unavailable,
    UpstreamError,
    UpstreamState,
)
from app.providers.otpget import LISTED_STOCK, OtpgetProvider, parse_service_label
from app.providers.otpget_common import OtpgetConfig
from tests.fakes import FakeOtpget

KEY = "sk_live_otpget_5f0c2a9e"
TIER = "1:61:102"  # type 1, Pakistan, WhatsApp - 60 PKR


class Clock:
    def __init__(self) -> None:
        self.now = 1_772_013_600.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeOtpget:
    return FakeOtpget(KEY, clock=clock)


def make(fake: FakeOtpget, **settings: object) -> OtpgetProvider:
    config = OtpgetConfig(**({"api_key": KEY, "retry_backoff": 0.0} | settings))  # type: ignore[arg-type]
    return OtpgetProvider(config, transport=fake.transport())


@pytest.fixture
async def otpget(fake: FakeOtpget):  # type: ignore[no-untyped-def]
    provider = make(fake)
    yield provider
    await provider.aclose()


def assert_no_key(exc: BaseException) -> None:
    assert KEY not in str(exc) and KEY not in repr(exc.args)
    assert all(KEY not in str(part) for part in (exc.__cause__, exc.__context__) if part)


class TestCatalog:
    async def test_types_countries_services_and_prices(self, fake: FakeOtpget) -> None:
        provider = make(fake, types=(1, 2))
        catalog = await provider.catalog()
        await provider.aclose()
        countries = {c.code: c.name for c in catalog.countries}
        assert countries["1:61"] == "Pakistan" and countries["2:61"] == "Pakistan"
        assert countries["1:15"] == "England"  # listed, but BAD_COUNTRY for services: no tiers
        offers = {o.upstream_key: o for o in catalog.offers}
        assert not any(k.startswith("1:15:") for k in offers)
        whatsapp = offers[TIER]
        assert (whatsapp.country_code, whatsapp.service_code) == ("1:61", "WhatsApp")
        assert whatsapp.cost == Decimal("60") and whatsapp.currency == "PKR"
        assert whatsapp.available == LISTED_STOCK and whatsapp.operator_code is None
        assert offers["1:12:202"].cost == Decimal("1250.50")
        assert offers["2:61:102"].cost == Decimal("40")
        assert {s.code for s in catalog.services} == {
            "Telegram", "WhatsApp", "Instagram", "Google / Gmail"
        }  # fmt: skip
        asked = [(c.action, c.params.get("type")) for c in fake.calls]
        assert ("getCountries", "1") in asked and ("getCountries", "2") in asked

    async def test_only_the_configured_types_are_sold(self, otpget: OtpgetProvider) -> None:
        catalog = await otpget.catalog()
        assert catalog.offers and all(o.upstream_key.startswith("1:") for o in catalog.offers)
        with pytest.raises(Rejected, match="SMSGATE_OTPGET_TYPES"):
            await otpget.buy("2:61:102", "1")

    @pytest.mark.parametrize(
        ("label", "parsed"),
        [
            ("WhatsApp - 60 PKR", ("WhatsApp", Decimal("60"))),
            ("Google / Gmail - 1,250.50 PKR", ("Google / Gmail", Decimal("1250.50"))),
            ("Foo - Bar - 7.5 PKR", ("Foo - Bar", Decimal("7.5"))),
            ("WhatsApp 60", None),
            ("WhatsApp - free PKR", None),
        ],
    )
    def test_service_labels(self, label: str, parsed: object) -> None:
        assert parse_service_label(label) == parsed

    async def test_a_bad_key_is_a_config_error(self, fake: FakeOtpget) -> None:
        fake.api_key = "another"
        provider = make(fake)
        with pytest.raises(ConfigError, match="BAD_KEY") as caught:
            await provider.catalog()
        await provider.aclose()
        assert_no_key(caught.value)


class TestBuy:
    async def test_access_number(self, otpget: OtpgetProvider, fake: FakeOtpget) -> None:
        purchase = await otpget.buy(TIER, "77")
        order = fake.orders[purchase.upstream_order_id]
        assert purchase == Purchase(order.id, "+" + order.phone)
        assert fake.balance == Decimal("4940.00")
        call = fake.calls[-1]
        assert call.authorized and call.params["handler"] == "handler"
        assert (call.params["service"], call.params["country"], call.params["type"]) == (
            "102", "61", "1"
        )  # fmt: skip

    @pytest.mark.parametrize(
        ("answer", "error"),
        [
            ("BAD_KEY", ConfigError),
            ("ACCOUNT_BLOCKED", ConfigError),
            ("BAD_ACTION", ConfigError),
            ("NO_BALANCE", OutOfFunds),
            ("NO_NUMBERS", Rejected),
            ("BAD_SERVICE", Rejected),
            ("BAD_COUNTRY", Rejected),
            ("BAD_TYPE", Rejected),
            ("ERROR_PRICE_CHANGE", Rejected),
            ("ERROR_PROVIDER_3:upstream said: no route to SIM bank", Unavailable),
            ("DATABASE_ERROR", Unavailable),
            ("SOMETHING_NEW", Unavailable),
            ("ACCESS_NUMBER:abc123", Indeterminate),  # sold, but no phone to show
        ],
    )
    async def test_every_answer_maps(
        self, otpget: OtpgetProvider, fake: FakeOtpget, answer: str, error: type[UpstreamError]
    ) -> None:
        fake.answer_next(answer, action="getNumber")
        with pytest.raises(error) as caught:
            await otpget.buy(TIER, "1")
        assert type(caught.value) is error
        assert answer.split(":")[0] in caught.value.message  # the raw text is kept for ops
        assert fake.actions().count("getNumber") == 1

    async def test_real_refusals(self, otpget: OtpgetProvider, fake: FakeOtpget) -> None:
        fake.set_stock(TIER, 0)
        with pytest.raises(Rejected, match="NO_NUMBERS"):
            await otpget.buy(TIER, "1")
        fake.balance = Decimal("10")
        with pytest.raises(OutOfFunds, match="NO_BALANCE"):
            await otpget.buy("1:61:101", "2")
        fake.blocked = True
        with pytest.raises(ConfigError, match="ACCOUNT_BLOCKED"):
            await otpget.buy("1:61:101", "3")
        with pytest.raises(Rejected):
            await otpget.buy("not-a-key", "4")

    @pytest.mark.parametrize("kind", ["html", "empty", "garbage", "500", "connect"])
    async def test_broken_answers_are_unavailable_and_never_retried(
        self, otpget: OtpgetProvider, fake: FakeOtpget, kind: str
    ) -> None:
        fake.fail_next(kind, action="getNumber")
        with pytest.raises(Unavailable) as caught:
            await otpget.buy(TIER, "1")
        assert type(caught.value) is Unavailable
        assert_no_key(caught.value)
        assert fake.actions().count("getNumber") == 1
        assert not fake.orders  # nothing was sold

    @pytest.mark.parametrize("kind", ["lost", "slow", "reset"])
    async def test_a_lost_answer_is_indeterminate(
        self, otpget: OtpgetProvider, fake: FakeOtpget, kind: str
    ) -> None:
        fake.fail_next(kind, action="getNumber")
        with pytest.raises(Indeterminate) as caught:
            await otpget.buy(TIER, "1")
        assert_no_key(caught.value)
        assert fake.actions().count("getNumber") == 1  # never re-bought
        assert len(fake.orders) == (0 if kind == "reset" else 1)
        # No lookup by our reference exists upstream: the gateway refunds and moves on.
        assert await otpget.find_purchase("1") is None

    async def test_429_carries_retry_after(self, otpget: OtpgetProvider, fake: FakeOtpget) -> None:
        fake.fail_next("429", retry_after=17)
        with pytest.raises(Unavailable) as caught:
            await otpget.buy(TIER, "1")
        assert caught.value.retry_after == 17


class TestStatus:
    @pytest.mark.parametrize("code", ["847293", "1234", "12345678", "0042"])
    async def test_the_code_survives_the_extractor(
        self, otpget: OtpgetProvider, fake: FakeOtpget, code: str
    ) -> None:
        purchase = await otpget.buy(TIER, "1")
        waiting = await otpget.status(purchase.upstream_order_id)
        assert waiting.state is UpstreamState.WAITING and waiting.messages == ()
        fake.deliver_sms(purchase.upstream_order_id, code)
        received = await otpget.status(purchase.upstream_order_id)
        assert received.state is UpstreamState.RECEIVED
        assert len(received.messages) == 1 and extract_code(received.messages[0]) == code

    async def test_canceled_upstream(self, otpget: OtpgetProvider, fake: FakeOtpget) -> None:
        purchase = await otpget.buy(TIER, "1")
        fake.expire(purchase.upstream_order_id)
        assert (await otpget.status(purchase.upstream_order_id)).state is UpstreamState.CANCELED

    @pytest.mark.parametrize(("order_id", "word"), [("nope", "NO_ACTIVATION"), ("", "BAD_ID")])
    async def test_unknown_orders(self, otpget: OtpgetProvider, order_id: str, word: str) -> None:
        with pytest.raises(Rejected, match=word):
            await otpget.status(order_id)

    async def test_reads_are_retried(self, otpget: OtpgetProvider, fake: FakeOtpget) -> None:
        purchase = await otpget.buy(TIER, "1")
        fake.fail_next("html", action="getStatus")
        fake.fail_next("reset", action="getStatus")
        status = await otpget.status(purchase.upstream_order_id)
        assert status.state is UpstreamState.WAITING
        assert fake.actions().count("getStatus") == 3

    @pytest.mark.parametrize("kind", ["html", "empty", "garbage", "500", "reset", "slow"])
    async def test_reads_give_up_as_unavailable(
        self, otpget: OtpgetProvider, fake: FakeOtpget, kind: str
    ) -> None:
        fake.fail_next(kind, action="getStatus", times=3)
        with pytest.raises(Unavailable) as caught:
            await otpget.status("abc1001xyz")
        assert type(caught.value) is Unavailable  # a read has nothing to be unsure about
        assert_no_key(caught.value)
        assert fake.actions().count("getStatus") == 3

    async def test_429_is_not_retried(self, otpget: OtpgetProvider, fake: FakeOtpget) -> None:
        fake.fail_next("429", retry_after=5, action="getStatus")
        with pytest.raises(Unavailable) as caught:
            await otpget.status("abc1001xyz")
        assert caught.value.retry_after == 5 and fake.actions().count("getStatus") == 1


class TestCancelAndFinish:
    async def test_cancel_window(
        self, otpget: OtpgetProvider, fake: FakeOtpget, clock: Clock
    ) -> None:
        assert otpget.capabilities.min_cancel_seconds == 120
        purchase = await otpget.buy(TIER, "1")
        clock.now += 119
        with pytest.raises(CancelTooEarly, match="EARLY_CANCEL_DENIED"):
            await otpget.cancel(purchase.upstream_order_id)
        clock.now += 1
        await otpget.cancel(purchase.upstream_order_id)
        assert fake.orders[purchase.upstream_order_id].state == "canceled"
        assert fake.balance == Decimal("5000.00")
        # Our cancel again (its first answer lost): STATUS_ALREADY_CHANGED, and it is canceled.
        await otpget.cancel(purchase.upstream_order_id)
        assert fake.actions()[-2:] == ["setStatus", "getStatus"]

    async def test_cancel_denied_and_after_an_sms(
        self, otpget: OtpgetProvider, fake: FakeOtpget, clock: Clock
    ) -> None:
        purchase = await otpget.buy(TIER, "1")
        clock.now += 600
        fake.deny_cancel = True
        with pytest.raises(CancelTooEarly):
            await otpget.cancel(purchase.upstream_order_id)
        fake.deny_cancel = False
        fake.deliver_sms(purchase.upstream_order_id, "5555")
        with pytest.raises(Rejected, match="STATUS_ALREADY_CHANGED"):
            await otpget.cancel(purchase.upstream_order_id)

    async def test_finish(self, otpget: OtpgetProvider, fake: FakeOtpget) -> None:
        purchase = await otpget.buy(TIER, "1")
        with pytest.raises(Rejected, match="NO_SMS_RECEIVED"):
            await otpget.finish(purchase.upstream_order_id)
        fake.deliver_sms(purchase.upstream_order_id, "4321")
        await otpget.finish(purchase.upstream_order_id)
        assert fake.orders[purchase.upstream_order_id].state == "finished"
        await otpget.finish(purchase.upstream_order_id)  # already changed: released anyway

    @pytest.mark.parametrize(
        ("answer", "error"),
        [("BAD_STATUS", Rejected), ("NO_ACTIVATION", Rejected), ("BAD_ID", Rejected),
         ("ACCESS_FINISH", Unavailable)],
    )  # fmt: skip
    async def test_cancel_answers(
        self, otpget: OtpgetProvider, fake: FakeOtpget, answer: str, error: type[UpstreamError]
    ) -> None:
        fake.answer_next(answer, action="setStatus")
        with pytest.raises(error):
            await otpget.cancel("abc1001xyz")

    @pytest.mark.parametrize("answer", ["ACCESS_READY", "ACCESS_CANCEL"])
    async def test_cancel_success_answers(
        self, otpget: OtpgetProvider, fake: FakeOtpget, answer: str
    ) -> None:
        fake.answer_next(answer, action="setStatus")
        await otpget.cancel("abc1001xyz")

    async def test_a_lost_cancel_answer_is_indeterminate(
        self, otpget: OtpgetProvider, fake: FakeOtpget
    ) -> None:
        fake.fail_next("lost", action="setStatus")
        with pytest.raises(Indeterminate):
            await otpget.cancel("abc1001xyz")
        assert fake.actions().count("setStatus") == 1


class TestAccount:
    async def test_balance(self, otpget: OtpgetProvider, fake: FakeOtpget) -> None:
        assert await otpget.balance() == Money(Decimal("5000.00"), "PKR")
        fake.answer_next("ACCESS_BALANCE:abc", action="getBalance")
        assert await otpget.balance() == Money(Decimal("5000.00"), "PKR")  # retried
        for _ in range(3):
            fake.answer_next("ACCESS_BALANCE:abc", action="getBalance")
        with pytest.raises(Unavailable, match="bad amount"):
            await otpget.balance()
        assert fake.actions().count("getBalance") == 1 + 2 + 3

    async def test_no_resend_no_reactivation(self, otpget: OtpgetProvider) -> None:
        assert not otpget.capabilities.resend and not otpget.capabilities.reactivate
        assert await otpget.resend("abc1001xyz") is False
        with pytest.raises(NotSupported):
            await otpget.reactivation_cost("abc1001xyz")
        with pytest.raises(NotSupported):
            await otpget.reactivate("abc1001xyz", "9")

    def test_cancel_window_is_a_setting(self, fake: FakeOtpget) -> None:
        assert make(fake, min_cancel_seconds=300).capabilities.min_cancel_seconds == 300


class TestSecrets:
    async def test_an_echoed_key_is_masked(self, otpget: OtpgetProvider, fake: FakeOtpget) -> None:
        fake.answer_next(f"ERROR_PROVIDER_1:GET /x?api_key={KEY}&a=b failed", action="getNumber")
        with pytest.raises(Unavailable) as caught:
            await otpget.buy(TIER, "1")
        assert_no_key(caught.value)
        assert "ERROR_PROVIDER_1" in caught.value.message and "***" in caught.value.message

    async def test_httpx_request_logs_do_not_carry_the_key(
        self, otpget: OtpgetProvider, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.DEBUG, logger="httpx"):
            await otpget.balance()
        assert "getBalance" in caplog.text and KEY not in caplog.text
        assert "api_key=***" in caplog.text


class TestLoopback:
    async def test_over_real_http(self, fake: FakeOtpget) -> None:
        with fake.serve() as base_url:
            provider = OtpgetProvider(
                OtpgetConfig(KEY, base_url=f"{base_url}/stubs", read_timeout=0.5)
            )
            try:
                purchase = await provider.buy(TIER, "1")
                fake.deliver_sms(purchase.upstream_order_id, "740279")
                status = await provider.status(purchase.upstream_order_id)
                assert extract_code(status.messages[0]) == "740279"
                for kind in ("reset", "slow"):
                    fake.delay = 1.0
                    fake.fail_next(kind, action="getNumber")
                    with pytest.raises(Indeterminate) as caught:
                        await provider.buy(TIER, "2")
                    assert_no_key(caught.value)
                assert await provider.balance() == Money(fake.balance, "PKR")
            finally:
                await provider.aclose()

    async def test_nothing_listening_is_unavailable(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        provider = OtpgetProvider(OtpgetConfig(KEY, base_url=f"http://127.0.0.1:{port}/stubs"))
        with pytest.raises(Unavailable) as caught:
            await provider.buy(TIER, "1")  # not sent: safe to fail over
        await provider.aclose()
        assert type(caught.value) is Unavailable
        assert_no_key(caught.value)
