"""The OTPGet e-mail client (email_handler.php) against the fake speaking its protocol:
every documented answer and how it maps."""

from collections.abc import AsyncIterator
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
from app.providers.otpget_email import (
    EmailCode,
    EmailOffer,
    EmailPurchase,
    EmailState,
    OtpgetEmail,
)
from tests.fakes.otpget import FakeOtpget
from tests.fakes.otpget_email import FakeOtpgetEmail

KEY = "sk_live_mail_8e02b7"
BASE = "https://otpget.com/stubs"


@pytest.fixture
def otpget() -> FakeOtpget:
    return FakeOtpget(KEY)


@pytest.fixture
def fake(otpget: FakeOtpget) -> FakeOtpgetEmail:
    return FakeOtpgetEmail(otpget)


@pytest.fixture
async def http(otpget: FakeOtpget, fake: FakeOtpgetEmail) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=otpget.transport()) as client:
        yield client


@pytest.fixture
def emails(http: httpx.AsyncClient) -> OtpgetEmail:
    return OtpgetEmail(BASE, KEY, http, retry_backoff=0.0)


def calls(fake: FakeOtpgetEmail, action: str) -> int:
    return sum(1 for c in fake.calls() if c.action == action)


class TestCatalog:
    async def test_server_1_services(self, emails: OtpgetEmail, fake: FakeOtpgetEmail) -> None:
        assert await emails.services() == (
            EmailOffer("1:ig:gmail.com", 1, "ig", "Instagram", "gmail.com", Decimal("120.00"), 48),
            EmailOffer("1:tg:gmail.com", 1, "tg", "Telegram", "gmail.com", Decimal("95.00"), 120),
        )
        (call,) = fake.calls()
        assert (call.params["server"], call.params["domain"]) == ("1", "gmail.com")
        with pytest.raises(Rejected, match="Service not available"):
            await emails.services("yahoo.com")

    async def test_server_2_domains(self, emails: OtpgetEmail, fake: FakeOtpgetEmail) -> None:
        offers = await emails.domains("telegram.com")
        assert [(o.upstream_key, o.cost, o.available) for o in offers] == [
            ("2:gmail.com", Decimal("15.60"), 82000),
            ("2:mail.com", Decimal("1.17"), 990125),
            ("2:gmx.com", Decimal("1.17"), 1615245),
        ]
        assert all(o.service_code is None and o.currency == "PKR" for o in offers)
        assert fake.calls()[-1].params["site"] == "telegram.com"

    async def test_malformed_rows_are_skipped_and_a_missing_list_is_unavailable(
        self, emails: OtpgetEmail, otpget: FakeOtpget
    ) -> None:
        otpget.answer_next(
            '{"status":200,"message":"OK","domains":[{"domain":"a.com","price":"x"},'
            '{"domain":"B.com","price":2.5,"count":"7"}]}'
        )
        (offer,) = await emails.domains()
        assert (offer.domain, offer.cost, offer.available) == ("b.com", Decimal("2.5"), 7)
        for _ in range(3):
            otpget.answer_next('{"status":"200","message":"OK","services":{}}')
        with pytest.raises(Unavailable, match="no 'services' list"):
            await emails.services()


class TestBuy:
    async def test_server_1(self, emails: OtpgetEmail, fake: FakeOtpgetEmail) -> None:
        assert await emails.buy_for_service("ig", "gmail.com") == EmailPurchase(
            "7291834", 1, "temp.abc123@gmail.com", "Instagram", "gmail.com",
            Decimal("120.00"), Decimal("4880.00"),
        )  # fmt: skip
        await emails.buy_for_service("tg")  # the domain is OTPGet's default
        assert "domain" not in fake.calls()[-1].params

    async def test_server_2_reports_the_domain_sold(
        self, emails: OtpgetEmail, fake: FakeOtpgetEmail, otpget: FakeOtpget
    ) -> None:
        fake.substitute["gmail.com"] = "gmx.com"
        otpget.balance = Decimal("1740.42")
        purchase = await emails.buy_for_domain("gmail.com", "telegram.com")
        assert purchase == EmailPurchase(
            "48291034", 2, "cudaqibeve@gmx.com", "Email Activation", "gmx.com",
            Decimal("1.17"), Decimal("1739.25"),
        )  # fmt: skip

    async def test_missing_parameters_are_refused_before_sending(
        self, emails: OtpgetEmail, fake: FakeOtpgetEmail
    ) -> None:
        with pytest.raises(Rejected):
            await emails.buy_for_service("")
        with pytest.raises(Rejected):
            await emails.buy_for_domain("")
        assert fake.calls() == []

    @pytest.mark.parametrize(
        ("arrange", "error", "said"),
        [
            (lambda f, o: f.set_count(1, "ig", 0), Rejected, "No stock available"),
            (lambda f, o: setattr(o, "balance", Decimal("5")), OutOfFunds, "Need: 120.00"),
            (lambda f, o: setattr(f, "api_down", True), Unavailable, "API connection error"),
            (lambda f, o: setattr(f, "no_email", True), Unavailable, "No email available"),
            (lambda f, o: setattr(f, "database_error", True), Unavailable, "Database error"),
            (lambda f, o: setattr(f, "disabled", True), Unavailable, "disabled"),
            (lambda f, o: setattr(o, "blocked", True), ConfigError, "ACCOUNT_BLOCKED"),
            (lambda f, o: f.fail_with("400", "BAD_ACTION"), ConfigError, "BAD_ACTION"),
            (lambda f, o: f.fail_with("404", "Service not available"), Rejected, "not available"),
            (lambda f, o: f.fail_with("400", "service_id is required"), Rejected, "service_id"),
            (lambda f, o: f.fail_with("202", "Waiting for code..."), Unavailable, "unrecognised"),
        ],
    )
    async def test_documented_refusals(
        self,
        emails: OtpgetEmail,
        fake: FakeOtpgetEmail,
        otpget: FakeOtpget,
        arrange,  # type: ignore[no-untyped-def]
        error: type[UpstreamError],
        said: str,
    ) -> None:
        arrange(fake, otpget)
        with pytest.raises(error, match=said) as caught:
            await emails.buy_for_service("ig")
        assert type(caught.value) is error
        assert calls(fake, "buyEmail") == 1 and not fake.activations

    async def test_bad_key(self, http: httpx.AsyncClient) -> None:
        with pytest.raises(ConfigError, match="BAD_KEY"):
            await OtpgetEmail(BASE, "not-the-key", http).buy_for_service("ig")

    async def test_numeric_status_and_mirrored_http_status(
        self, emails: OtpgetEmail, fake: FakeOtpgetEmail, otpget: FakeOtpget
    ) -> None:
        fake.numeric_status = fake.mirror_http_status = True
        assert (await emails.buy_for_service("ig")).email_id == "7291834"
        otpget.balance = Decimal("0")
        with pytest.raises(OutOfFunds):
            await emails.buy_for_service("ig")

    @pytest.mark.parametrize("fault", ["lost", "slow", "reset"])
    async def test_a_lost_answer_is_indeterminate_and_not_retried(
        self, emails: OtpgetEmail, otpget: FakeOtpget, fake: FakeOtpgetEmail, fault: str
    ) -> None:
        otpget.fail_next(fault, action="buyEmail")
        with pytest.raises(Indeterminate) as caught:
            await emails.buy_for_service("ig")
        assert calls(fake, "buyEmail") == 1
        assert len(fake.activations) == (0 if fault == "reset" else 1)
        assert KEY not in str(caught.value)

    async def test_a_malformed_success_is_indeterminate(
        self, emails: OtpgetEmail, otpget: FakeOtpget
    ) -> None:
        otpget.answer_next('{"status":"200","message":"ok","email_id":"1","email":"nobody"}')
        with pytest.raises(Indeterminate, match="malformed"):
            await emails.buy_for_service("ig")

    @pytest.mark.parametrize("fault", ["html", "garbage", "empty", "500", "connect"])
    async def test_broken_answers_are_unavailable(
        self, emails: OtpgetEmail, otpget: FakeOtpget, fake: FakeOtpgetEmail, fault: str
    ) -> None:
        otpget.fail_next(fault, action="buyEmail")
        with pytest.raises(Unavailable):
            await emails.buy_for_service("ig")
        assert calls(fake, "buyEmail") == 1 and not fake.activations


class TestCode:
    async def test_waiting_received_canceled(
        self, emails: OtpgetEmail, fake: FakeOtpgetEmail
    ) -> None:
        purchase = await emails.buy_for_service("ig")
        assert await emails.status(purchase.email_id, purchase.server) == EmailCode(
            EmailState.WAITING
        )
        fake.deliver_code(purchase.email_id, "482913")
        got = await emails.status(purchase.email_id, purchase.server)
        assert (got.state, got.code) == (EmailState.RECEIVED, "482913")
        assert got.text == "Your Instagram verification code is 482913"
        other = await emails.buy_for_domain("mail.com")
        assert (await emails.cancel(other.email_id, 2)).state is EmailState.CANCELED
        assert await emails.status(other.email_id, 2) == EmailCode(EmailState.CANCELED)

    async def test_answers_the_seed_leaves_open(
        self, emails: OtpgetEmail, otpget: FakeOtpget
    ) -> None:
        otpget.answer_next('{"status":"200","message":"OK","messages":[]}')
        assert await emails.status("1", 1) == EmailCode(EmailState.WAITING)
        otpget.answer_next('{"status":"200","message":"OK","code":"7788"}')
        assert await emails.status("1", 1) == EmailCode(EmailState.RECEIVED, "7788")
        otpget.answer_next('{"status":"200","messages":[{"code":"","text":"Click the link"}]}')
        assert await emails.status("1", 1) == EmailCode(EmailState.RECEIVED, None, "Click the link")

    async def test_not_found_and_the_wrong_server(
        self, emails: OtpgetEmail, fake: FakeOtpgetEmail
    ) -> None:
        purchase = await emails.buy_for_service("ig")
        with pytest.raises(Rejected, match="Email activation not found"):
            await emails.status(purchase.email_id, 2)

    async def test_polls_are_retried(
        self, emails: OtpgetEmail, otpget: FakeOtpget, fake: FakeOtpgetEmail
    ) -> None:
        purchase = await emails.buy_for_service("ig")
        otpget.fail_next("garbage", action="getEmailCode")
        fake.fail_with("500", "API connection error", action="getEmailCode")
        assert (await emails.status(purchase.email_id, 1)).state is EmailState.WAITING
        assert calls(fake, "getEmailCode") == 3


class TestCancel:
    async def test_refunded_before_a_code(
        self, emails: OtpgetEmail, otpget: FakeOtpget, fake: FakeOtpgetEmail
    ) -> None:
        purchase = await emails.buy_for_service("ig")
        assert await emails.cancel(purchase.email_id, 1) == EmailCode(EmailState.CANCELED)
        assert otpget.balance == Decimal("5000.00")
        # Our own earlier cancel whose answer was lost: cancelled already, nothing more.
        assert await emails.cancel(purchase.email_id, 1) == EmailCode(EmailState.CANCELED)

    async def test_after_a_code_it_answers_the_code(
        self, emails: OtpgetEmail, otpget: FakeOtpget, fake: FakeOtpgetEmail
    ) -> None:
        purchase = await emails.buy_for_service("ig")
        fake.deliver_code(purchase.email_id, "482913")
        assert await emails.cancel(purchase.email_id, 1) == EmailCode(EmailState.RECEIVED, "482913")
        assert otpget.balance == Decimal("4880.00")

    async def test_refusals_and_a_lost_answer(
        self, emails: OtpgetEmail, otpget: FakeOtpget, fake: FakeOtpgetEmail
    ) -> None:
        with pytest.raises(Rejected, match="not found"):
            await emails.cancel("404404", 1)
        purchase = await emails.buy_for_service("ig")
        otpget.fail_next("lost", action="cancelEmail")
        with pytest.raises(Indeterminate):
            await emails.cancel(purchase.email_id, 1)
        assert calls(fake, "cancelEmail") == 2
        assert fake.activations[purchase.email_id].status == "cancelled"


class TestHistory:
    async def test_pages(self, emails: OtpgetEmail, fake: FakeOtpgetEmail) -> None:
        first = await emails.buy_for_service("ig")
        fake.deliver_code(first.email_id, "111222")
        for _ in range(20):
            await emails.buy_for_domain("gmx.com")
        page_1 = await emails.history()
        assert len(page_1) == 20 and all(r.server == 2 for r in page_1)
        (oldest,) = await emails.history(2)
        assert (oldest.email_id, oldest.email, oldest.server) == (
            first.email_id, first.email, 1,
        )  # fmt: skip
        assert (oldest.state, oldest.code) == (EmailState.RECEIVED, "111222")
        assert fake.calls()[-1].params["page"] == "2"

    async def test_statuses(self, emails: OtpgetEmail, otpget: FakeOtpget) -> None:
        rows = ",".join(
            f'{{"id":"{i}","email_address":"a{i}@x.com","status":"{s}","server":"1"}}'
            for i, s in enumerate(["Completed", "cancelled", "pending", "frozen"])
        )
        otpget.answer_next(f'{{"status":"200","history":[{rows},{{"status":"x"}}]}}')
        found = await emails.history()
        assert [r.state for r in found] == [
            EmailState.COMPLETED, EmailState.CANCELED, EmailState.WAITING, EmailState.OTHER,
        ]  # fmt: skip
        assert found[3].raw_status == "frozen" and found[0].email_id == "0"


class TestLoopback:
    async def test_over_real_http(self, otpget: FakeOtpget, fake: FakeOtpgetEmail) -> None:
        with otpget.serve() as base_url:
            async with httpx.AsyncClient(timeout=httpx.Timeout(0.5, connect=2)) as client:
                emails = OtpgetEmail(f"{base_url}/stubs", KEY, client, retry_backoff=0.0)
                purchase = await emails.buy_for_service("tg")
                fake.deliver_code(purchase.email_id, "5150")
                assert (await emails.status(purchase.email_id, 1)).code == "5150"
                otpget.fail_next("reset", action="buyEmail")
                with pytest.raises(Indeterminate):
                    await emails.buy_for_service("tg")
