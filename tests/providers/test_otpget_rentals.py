"""The OTPGet rentals client (rental-handler.php) against the fake speaking its protocol:
every documented answer and how it maps."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from app.providers.base import (
    ConfigError,
    Indeterminate,
    OutOfFunds,
    Rejected,
    Unavailable,
    UpstreamError,
)
from app.providers.otpget_rentals import (
    OtpgetRentals,
    RentalCountry,
    RentalPrice,
    RentalPurchase,
    RentalState,
)
from tests.fakes.otpget import FakeOtpget
from tests.fakes.otpget_rentals import FakeOtpgetRentals

KEY = "sk_live_rent_c41d9e"
BASE = "https://otpget.com/stubs"
BOUGHT = datetime(2026, 3, 10, 21, 55, 55, tzinfo=UTC)
EXPIRES = datetime(2026, 4, 9, 21, 55, 55, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = BOUGHT.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def otpget(clock: Clock) -> FakeOtpget:
    return FakeOtpget(KEY, clock=clock)


@pytest.fixture
def fake(otpget: FakeOtpget) -> FakeOtpgetRentals:
    return FakeOtpgetRentals(otpget)


@pytest.fixture
async def http(otpget: FakeOtpget, fake: FakeOtpgetRentals) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=otpget.transport()) as client:
        yield client


@pytest.fixture
def rentals(http: httpx.AsyncClient) -> OtpgetRentals:
    return OtpgetRentals(BASE, KEY, http, retry_backoff=0.0)


def assert_no_key(exc: BaseException) -> None:
    assert KEY not in str(exc) and KEY not in repr(exc.args)


def rent_calls(fake: FakeOtpgetRentals, action: str = "rentNumber") -> int:
    return sum(1 for c in fake.calls() if c.action == action)


class TestCatalog:
    async def test_countries_of_one_server_or_all(self, rentals: OtpgetRentals) -> None:
        server_2 = await rentals.countries(2)
        assert server_2 == (
            RentalCountry(2, "ca", "Canada", "1"),
            RentalCountry(2, "us", "United States of America", "6"),
        )
        assert {c.provider for c in await rentals.countries()} == {1, 2}

    async def test_a_malformed_country_is_skipped(
        self, rentals: OtpgetRentals, otpget: FakeOtpget
    ) -> None:
        otpget.answer_next(
            '{"status":"200","message":"OK","countries":[{"id":"9"},'
            '{"id":"1","provider":"2","name":"Canada","country_code":"CA"}]}'
        )
        assert await rentals.countries() == (RentalCountry(2, "ca", "Canada", "1"),)

    async def test_pricing_in_pkr_decimals(self, rentals: OtpgetRentals) -> None:
        assert await rentals.pricing("ca", 2) == (
            RentalPrice(2, "ca", "Canada", 720, Decimal("840.00"), "1"),
            RentalPrice(2, "ca", "Canada", 4320, Decimal("5040.00"), "2"),
        )
        with pytest.raises(Rejected, match="No pricing found"):
            await rentals.pricing("zz", 2)

    async def test_live_stock(self, rentals: OtpgetRentals, fake: FakeOtpgetRentals) -> None:
        (stock,) = await rentals.stock("ca", 2)
        assert (stock.area_code, stock.available, stock.min_month) == ("ca", 3338, 1)
        fake.set_stock(2, "ca", 0)
        assert (await rentals.stock("ca", 2))[0].available == 0

    async def test_offers_join_pricing_and_stock(self, rentals: OtpgetRentals) -> None:
        offers = {o.upstream_key: o for o in await rentals.offers()}
        assert set(offers) == {
            "2:ca:720", "2:ca:4320", "2:us:720", "2:us:8640",
            "1:gb:12", "1:gb:24", "1:gb:168", "1:ca:24", "1:ca:720",
        }  # fmt: skip
        canada = offers["2:ca:720"]
        assert (canada.cost, canada.currency, canada.available) == (Decimal("840.00"), "PKR", 3338)
        assert offers["1:gb:12"].available == 40

    async def test_a_term_shorter_than_min_month_has_no_stock(
        self, rentals: OtpgetRentals, otpget: FakeOtpget
    ) -> None:
        otpget.answer_next(
            '{"status":"200","message":"OK","available":[{"area_code":"ca",'
            '"area_title":"Canada","available":50,"min_month":6},{"area_code":"416",'
            '"area_title":"Toronto","available":5,"min_month":0}]}',
            action="getAvailableRentals",
        )
        offers = {o.upstream_key: o.available for o in await rentals.offers(2)}
        assert offers["2:ca:720"] == 5 and offers["2:ca:4320"] == 55


class TestRent:
    async def test_the_seed_purchase(
        self, rentals: OtpgetRentals, otpget: FakeOtpget, fake: FakeOtpgetRentals
    ) -> None:
        otpget.balance = Decimal("5060.00")
        assert await rentals.rent("ca", 2, 720) == RentalPurchase(
            "2673093356180000583", "3434337545", 720, Decimal("840.00"), Decimal("4220.00"),
            EXPIRES,
        )  # fmt: skip
        (call,) = fake.calls()
        assert call.params["duration_hours"] == "720" and call.params["provider"] == "2"

    async def test_stamps_are_read_in_the_configured_zone(self, http: httpx.AsyncClient) -> None:
        karachi = timezone(timedelta(hours=5))
        purchase = await OtpgetRentals(BASE, KEY, http, zone=karachi).rent("ca", 2, 720)
        assert purchase.expires_at == EXPIRES - timedelta(hours=5)

    @pytest.mark.parametrize(
        ("arrange", "error", "said"),
        [
            (lambda f, o: None, Rejected, "monthly"),  # Server 2, 24 h
            (lambda f, o: setattr(o, "balance", Decimal("1")), OutOfFunds, "Insufficient"),
            (lambda f, o: f.disabled.add(2), Unavailable, "currently unavailable"),
            (lambda f, o: f.upstream_error.update({2: "boom"}), Unavailable, "Server 2 error"),
            (lambda f, o: setattr(f, "database_error", True), Unavailable, "Database error"),
            (lambda f, o: f.set_stock(2, "ca", 0), Unavailable, "NO_NUMBERS"),
            (lambda f, o: setattr(o, "blocked", True), ConfigError, "blocked"),
        ],
    )
    async def test_documented_refusals(
        self,
        rentals: OtpgetRentals,
        fake: FakeOtpgetRentals,
        otpget: FakeOtpget,
        arrange,  # type: ignore[no-untyped-def]
        error: type[UpstreamError],
        said: str,
    ) -> None:
        arrange(fake, otpget)
        hours = 24 if said == "monthly" else 720
        with pytest.raises(error, match=said) as caught:
            await rentals.rent("ca", 2, hours)
        assert type(caught.value) is error
        assert rent_calls(fake) == 1  # a purchase is never retried

    async def test_bad_key_unknown_action_and_no_pricing(
        self, http: httpx.AsyncClient, rentals: OtpgetRentals, fake: FakeOtpgetRentals
    ) -> None:
        with pytest.raises(ConfigError, match="Invalid API key"):
            await OtpgetRentals(BASE, "wrong-key", http).rent("ca", 2, 720)
        fake.fail_with("400", "Unknown action: rentNumber")
        with pytest.raises(ConfigError, match="Unknown action"):
            await rentals.rent("ca", 2, 720)
        with pytest.raises(Rejected, match="No pricing found"):
            await rentals.rent("ca", 2, 8640)
        fake.fail_with("400", "duration_hours is required.")
        with pytest.raises(Rejected):
            await rentals.rent("ca", 2, 720)

    async def test_an_undocumented_status_is_unavailable(
        self, rentals: OtpgetRentals, fake: FakeOtpgetRentals
    ) -> None:
        fake.fail_with("418", "I'm a teapot")
        with pytest.raises(Unavailable, match="unrecognised"):
            await rentals.rent("ca", 2, 720)

    async def test_a_mirrored_http_status_still_reads_the_envelope(
        self, rentals: OtpgetRentals, fake: FakeOtpgetRentals, otpget: FakeOtpget
    ) -> None:
        fake.mirror_http_status = True
        otpget.balance = Decimal("1")
        with pytest.raises(OutOfFunds):
            await rentals.rent("ca", 2, 720)

    @pytest.mark.parametrize("fault", ["lost", "slow", "reset"])
    async def test_a_lost_answer_is_indeterminate_and_not_retried(
        self, rentals: OtpgetRentals, otpget: FakeOtpget, fake: FakeOtpgetRentals, fault: str
    ) -> None:
        otpget.fail_next(fault, action="rentNumber")
        with pytest.raises(Indeterminate) as caught:
            await rentals.rent("ca", 2, 720)
        assert rent_calls(fake) == 1
        assert len(fake.rentals) == (0 if fault == "reset" else 1)
        assert_no_key(caught.value)

    async def test_a_malformed_success_is_indeterminate(
        self, rentals: OtpgetRentals, otpget: FakeOtpget
    ) -> None:
        otpget.answer_next('{"status":"200","message":"ok","phone":"3434337545"}')
        with pytest.raises(Indeterminate, match="malformed"):
            await rentals.rent("ca", 2, 720)

    @pytest.mark.parametrize("fault", ["html", "garbage", "empty", "500", "connect"])
    async def test_broken_answers_are_unavailable_and_not_retried(
        self, rentals: OtpgetRentals, otpget: FakeOtpget, fake: FakeOtpgetRentals, fault: str
    ) -> None:
        otpget.fail_next(fault, action="rentNumber")
        with pytest.raises(Unavailable):
            await rentals.rent("ca", 2, 720)
        assert rent_calls(fake) == 1 and not fake.rentals

    async def test_429_carries_retry_after(
        self, rentals: OtpgetRentals, otpget: FakeOtpget
    ) -> None:
        otpget.fail_next("429", retry_after=7)
        with pytest.raises(Unavailable) as caught:
            await rentals.rentals()
        assert caught.value.retry_after == 7.0


class TestMyRentals:
    async def test_records_and_the_renewal_id(
        self, rentals: OtpgetRentals, clock: Clock, otpget: FakeOtpget
    ) -> None:
        purchase = await rentals.rent("ca", 2, 720)
        record = await rentals.find_rental(purchase.order_id)
        assert record is not None
        assert (record.rental_id, record.order_id, record.provider) == ("27", purchase.order_id, 2)
        assert (record.state, record.phone_number, record.expires_at) == (
            RentalState.ACTIVE, "3434337545", EXPIRES,
        )  # fmt: skip
        assert await rentals.find_rental("nope") is None
        clock.now += 720 * 3600
        (expired,) = await rentals.rentals()
        assert expired.state is RentalState.EXPIRED

    async def test_an_undocumented_status_is_kept_raw(
        self, rentals: OtpgetRentals, otpget: FakeOtpget
    ) -> None:
        otpget.answer_next(
            '{"status":"200","message":"OK","rentals":[{"id":"3","server":"Server 1",'
            '"phone_number":"447700900100","order_id":"99","status":"Pending",'
            '"country_code":"GB","expiry_time":""},{"id":"4"}]}'
        )
        (record,) = await rentals.rentals()
        assert (record.state, record.raw_status, record.expires_at) == (
            RentalState.OTHER, "pending", None,
        )  # fmt: skip
        assert (record.provider, record.country_code) == (1, "gb")

    async def test_reads_are_retried(
        self, rentals: OtpgetRentals, otpget: FakeOtpget, fake: FakeOtpgetRentals
    ) -> None:
        otpget.fail_next("html", action="getMyRentals")
        fake.fail_with("503", "Server 1 is currently unavailable.", action="getMyRentals")
        assert await rentals.rentals() == ()
        assert rent_calls(fake, "getMyRentals") == 3
        otpget.fail_next("reset", action="getMyRentals", times=3)
        with pytest.raises(Unavailable, match="no answer"):
            await rentals.rentals()

    async def test_a_missing_list_is_unavailable(
        self, rentals: OtpgetRentals, otpget: FakeOtpget
    ) -> None:
        for _ in range(3):
            otpget.answer_next('{"status":"200","message":"OK"}')
        with pytest.raises(Unavailable, match="no 'rentals' list"):
            await rentals.rentals()


class TestMessages:
    async def test_every_sms_once_oldest_first(
        self, rentals: OtpgetRentals, fake: FakeOtpgetRentals, clock: Clock
    ) -> None:
        order_id = (await rentals.rent("ca", 2, 720)).order_id
        assert await rentals.messages(order_id) == ()
        fake.deliver_sms(order_id, "Your WhatsApp code 740-279", at=clock.now + 60)
        fake.deliver_sms(order_id, "G-482913 is your code", code="482913", at=clock.now + 10)
        fake.duplicate_sms = True
        first = await rentals.messages(order_id)
        assert [m.text for m in first] == ["G-482913 is your code", "Your WhatsApp code 740-279"]
        assert [m.code for m in first] == ["482913", None]
        assert first[1].sender == "Server 2"
        assert first[1].received_at == BOUGHT + timedelta(seconds=60)
        fake.duplicate_sms = False
        assert [m.key for m in await rentals.messages(order_id)] == [m.key for m in first]

    async def test_an_unknown_rental_and_odd_rows(
        self, rentals: OtpgetRentals, otpget: FakeOtpget
    ) -> None:
        with pytest.raises(Rejected, match="Rental not found"):
            await rentals.messages("123")
        otpget.answer_next(
            '{"status":"200","message":"OK","messages":[{"from":"x"},'
            '{"from":"WhatsApp","text":"hi","code":"","timestamp":"yesterday"}]}'
        )
        (sms,) = await rentals.messages("123")
        assert (sms.text, sms.received_at, sms.code) == ("hi", None, None)


class TestRenew:
    async def test_renew_by_the_rental_id(
        self, rentals: OtpgetRentals, otpget: FakeOtpget, fake: FakeOtpgetRentals
    ) -> None:
        purchase = await rentals.rent("ca", 2, 720)
        record = await rentals.find_rental(purchase.order_id)
        assert record is not None
        otpget.balance = Decimal("4280.00")
        renewal = await rentals.renew(record.rental_id, 720)
        assert renewal.expires_at == EXPIRES + timedelta(hours=720)
        assert (renewal.price_paid, renewal.new_balance) == (Decimal("840.00"), Decimal("3440.00"))
        assert renewal.phone_number == "3434337545" and renewal.duration_hours == 720
        with pytest.raises(Rejected, match="Rental not found"):
            await rentals.renew(purchase.order_id, 720)  # the order_id is not the rental id
        with pytest.raises(Rejected, match="monthly"):
            await rentals.renew(record.rental_id, 24)
        otpget.balance = Decimal("0")
        with pytest.raises(OutOfFunds):
            await rentals.renew(record.rental_id, 720)

    async def test_an_expired_rental_is_not_renewed(
        self, rentals: OtpgetRentals, clock: Clock
    ) -> None:
        await rentals.rent("ca", 2, 720)
        clock.now += 721 * 3600
        with pytest.raises(Rejected, match="Only active"):
            await rentals.renew("27", 720)

    async def test_a_lost_renewal_is_indeterminate(
        self, rentals: OtpgetRentals, otpget: FakeOtpget, fake: FakeOtpgetRentals
    ) -> None:
        await rentals.rent("ca", 2, 720)
        otpget.fail_next("lost", action="renewRental")
        with pytest.raises(Indeterminate):
            await rentals.renew("27", 720)
        assert rent_calls(fake, "renewRental") == 1
        otpget.answer_next('{"status":"200","message":"Rental renewed.","new_expiry":"soon"}')
        with pytest.raises(Indeterminate, match="malformed"):
            await rentals.renew("27", 720)


class TestSecrets:
    async def test_an_echoed_key_is_masked(
        self, rentals: OtpgetRentals, fake: FakeOtpgetRentals
    ) -> None:
        fake.fail_with("502", f"Server 2 error: GET /v1?key={KEY} failed")
        with pytest.raises(Unavailable) as caught:
            await rentals.rent("ca", 2, 720)
        assert_no_key(caught.value)
        assert "***" in caught.value.message


class TestLoopback:
    async def test_over_real_http(self, otpget: FakeOtpget, fake: FakeOtpgetRentals) -> None:
        with otpget.serve() as base_url:
            async with httpx.AsyncClient(timeout=httpx.Timeout(0.5, connect=2)) as client:
                rentals = OtpgetRentals(f"{base_url}/stubs", KEY, client, retry_backoff=0.0)
                purchase = await rentals.rent("gb", 1, 12)
                assert purchase.duration_hours == 12
                fake.deliver_sms(purchase.order_id, "code 1234")
                assert [m.text for m in await rentals.messages(purchase.order_id)] == ["code 1234"]
                for fault in ("reset", "slow"):
                    otpget.delay = 1.0
                    otpget.fail_next(fault, action="rentNumber")
                    with pytest.raises(Indeterminate):
                        await rentals.rent("gb", 1, 12)
