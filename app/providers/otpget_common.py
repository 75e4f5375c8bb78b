"""What OTPGet's two number handlers share (seed 001): the API key in the query string,
plain-text answers in HTTP 200, the status and setStatus vocabulary, the error strings.

Every documented answer is mapped here, once, for both handlers (see `ANSWERS`).
`handler_api.php` (activations) and `cheap_handler.php` (15-minute numbers) differ only in
their catalog and purchase calls, which live in `otpget.py` and `otpget_cheap.py`.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from app.providers.base import (
    CancelTooEarly,
    Capabilities,
    ConfigError,
    Money,
    NotSupported,
    OutOfFunds,
    Purchase,
    Rejected,
    Unavailable,
    UpstreamError,
    UpstreamState,
    UpstreamStatus,
)
from app.providers.http import HttpSettings, Timeouts, UpstreamHttp, plain_text
from app.providers.settings import ProviderSettings, required_secret

log = logging.getLogger(__name__)
T = TypeVar("T")

CURRENCY = "PKR"

# Every documented refusal string of both handlers and what it means for us.
#   ConfigError: our key/account/setup is wrong; the provider must be disabled until fixed.
#   OutOfFunds: our OTPGet wallet cannot pay.
#   Rejected: this one request was refused; the next candidate may work.
#   Unavailable: OTPGet (or its own upstream) had a hiccup; nothing happened, retry later.
ANSWERS: dict[str, type[UpstreamError]] = {
    "BAD_KEY": ConfigError,
    "ACCOUNT_BLOCKED": ConfigError,
    # We only send documented actions: an unknown one means the base URL points elsewhere.
    "BAD_ACTION": ConfigError,
    "NO_BALANCE": OutOfFunds,
    "LOW_BALANCE": OutOfFunds,
    "NO_NUMBERS": Rejected,
    "BAD_SERVICE": Rejected,  # the tier went away upstream since the last sync
    "BAD_COUNTRY": Rejected,
    "BAD_SERVER": Rejected,
    "BAD_TYPE": Rejected,  # this tier's provider type is not accepted; others may be
    # The live price rose above our balance and OTPGet auto-cancelled: this tier is too
    # dear right now, cheaper ones may still be bought (a plain NO_BALANCE says "empty").
    "ERROR_PRICE_CHANGE": Rejected,
    "NO_SERVERS": Rejected,
    "NO_SERVICES": Rejected,
    "NO_ACTIVATION": Rejected,  # no such order of ours upstream
    "BAD_ID": Rejected,
    "BAD_STATUS": Rejected,
    "NO_SMS_RECEIVED": Rejected,  # finish before any SMS
    "STATUS_ALREADY_CHANGED": Rejected,  # cancel/finish resolve this one themselves
    "EARLY_CANCEL_DENIED": CancelTooEarly,
    "DATABASE_ERROR": Unavailable,  # "DB insert failed, balance was not deducted"
}
# `ERROR_PROVIDER_1..6:<raw text>`: OTPGet's own upstream failed. Not a refusal of our
# request but a hiccup behind it: Unavailable (fail over now, retry later), raw text kept.
PROVIDER_ERROR_PREFIX = "ERROR_PROVIDER_"

CANCELED_ANSWERS = ("ACCESS_READY", "ACCESS_CANCEL")  # documented / sms-activate spelling
FINISHED_ANSWERS = ("ACCESS_FINISH", "ACCESS_ACTIVATION")

# OTPGet's STATUS_OK carries only the code; the gateway stores SMS texts and finds the code
# in them (app/orders/otp.py), so the text is written for that extractor to find exactly it.
SMS_TEMPLATE = "Your verification code is {code}"
CODELESS_SMS = "SMS received; the provider passed on no code."


def sms_text(code: str) -> str:
    return SMS_TEMPLATE.format(code=code) if code else CODELESS_SMS


@dataclass(frozen=True, slots=True)
class OtpgetConfig:
    """What an OTPGet adapter is built with (from `OtpgetSettings`, or directly in tests)."""

    api_key: str
    base_url: str = "https://otpget.com/stubs"
    types: tuple[int, ...] = (1,)
    min_cancel_seconds: int = 120
    rental_seconds: int = 1200
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    read_retries: int = 2
    retry_backoff: float = 0.2

    def http(self) -> HttpSettings:
        return HttpSettings(
            self.base_url,
            self.connect_timeout,
            self.read_timeout,
            self.read_retries,
            self.retry_backoff,
        )


class OtpgetSettings(ProviderSettings):
    """SMSGATE_OTPGET_*: one key and base URL for both handlers (otpget, otpget_cheap)."""

    model_config = SettingsConfigDict(env_prefix="SMSGATE_OTPGET_")

    api_key: Annotated[SecretStr, BeforeValidator(required_secret)]
    base_url: str = "https://otpget.com/stubs"
    # Which OTPGet provider types (1-6) the otpget adapter sells.
    types: Annotated[tuple[int, ...], NoDecode] = (1,)
    # OTPGet refuses cancels for 2 minutes after purchase (EARLY_CANCEL_DENIED).
    min_cancel_seconds: int = Field(default=120, ge=0)
    # How long an OTPGet activation is ours (undocumented upstream; sms-activate's 20 min).
    rental_seconds: int = Field(default=1200, ge=60)

    @field_validator("types", mode="before")
    @classmethod
    def _split_types(cls, value: object) -> object:
        if isinstance(value, str | int):
            value = [part.strip() for part in str(value).split(",") if part.strip()]
        if isinstance(value, list | tuple):
            try:
                types = [int(v) for v in value]
            except (TypeError, ValueError):
                raise ValueError("must be a comma list of 1-6") from None
            if not types or any(t not in range(1, 7) for t in types):
                raise ValueError("must be a comma list of 1-6")
            return tuple(dict.fromkeys(types))
        return value

    def config(self, timeouts: Timeouts) -> OtpgetConfig:
        return OtpgetConfig(
            api_key=self.api_key.get_secret_value(),
            base_url=self.base_url,
            types=self.types,
            min_cancel_seconds=self.min_cancel_seconds,
            rental_seconds=self.rental_seconds,
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            read_retries=timeouts.read_retries,
        )


def refusal(text: str, what: str) -> UpstreamError:
    """The error for an answer that is not the success the call expected."""
    word = text.split(":", 1)[0].strip()
    if word in ANSWERS:
        return ANSWERS[word](f"{what}: {text}")
    if word.startswith(PROVIDER_ERROR_PREFIX) and word[len(PROVIDER_ERROR_PREFIX) :].isdigit():
        return Unavailable(f"{what}: upstream provider error: {text}")
    return Unavailable(f"{what}: unrecognised answer {text!r}")


def parse_money(raw: str) -> Decimal:
    """`500.00`, `1,250.50`, `60` → Decimal; anything else raises ValueError."""
    cleaned = raw.strip().replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(raw) from None
    if not value.is_finite() or value < 0:
        raise ValueError(raw)
    return value


def phone_e164(raw: str) -> str:
    digits = raw.strip().removeprefix("+")
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise ValueError(raw)
    return "+" + digits


def json_answer(http: UpstreamHttp, response: httpx.Response, what: str) -> Any:
    """A JSON answer (catalog calls), or the mapped error when a plain string came back."""
    text = plain_text(http, response, what)
    if text[0] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            raise Unavailable(f"{what}: broken JSON {http.quote(response)}") from None
    raise refusal(http.scrub(text), what)


class OtpgetHandler:
    """The calls both handlers answer the same way; `path` says which handler."""

    path: str
    code: str
    name: str
    capabilities: Capabilities

    def __init__(
        self,
        settings: OtpgetConfig,
        *,
        code: str,
        rental_seconds: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.code = code
        self._http = UpstreamHttp(
            code, settings.http(), secrets=(settings.api_key,), transport=transport
        )
        self.capabilities = Capabilities(
            resend=False,
            reactivate=False,
            min_cancel_seconds=settings.min_cancel_seconds,
            rental_seconds=rental_seconds,
        )

    def _params(self, action: str, **extra: str) -> dict[str, str]:
        return {"api_key": self.settings.api_key, "action": action, **extra}

    def _recognising(
        self, what: str, recognise: Callable[[str], T]
    ) -> Callable[[httpx.Response], T]:
        # Recognition runs inside the HTTP call so a read's unrecognised answer is retried.
        def parse(response: httpx.Response) -> T:
            return recognise(self._http.scrub(plain_text(self._http, response, what)))

        return parse

    async def _read(self, action: str, recognise: Callable[[str], T], **extra: str) -> T:
        what = f"{self.code} {action}"
        return await self._http.read(
            "GET", self.path, self._recognising(what, recognise),
            params=self._params(action, **extra),
        )  # fmt: skip

    async def _write(self, action: str, **extra: str) -> str:
        what = f"{self.code} {action}"
        return await self._http.write(
            "GET", self.path, self._recognising(what, str), params=self._params(action, **extra)
        )

    async def _json(self, action: str, **extra: str) -> Any:
        what = f"{self.code} {action}"
        return await self._http.read(
            "GET",
            self.path,
            lambda r: json_answer(self._http, r, what),
            params=self._params(action, **extra),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def balance(self) -> Money | None:
        return await self._read("getBalance", self._balance)

    def _balance(self, text: str) -> Money:
        word, _, amount = text.partition(":")
        if word != "ACCESS_BALANCE":
            raise refusal(text, f"{self.code} getBalance")
        try:
            return Money(parse_money(amount), CURRENCY)
        except ValueError:
            raise Unavailable(f"{self.code} getBalance: bad amount in {text!r}") from None

    async def find_purchase(self, reference: str) -> Purchase | None:
        """OTPGet takes no reference of ours and has no order history call, so a purchase
        whose answer was lost cannot be found: None. The gateway then refunds its client;
        the number, if it was sold, gets no SMS use and lapses upstream."""
        return None

    async def status(self, upstream_order_id: str) -> UpstreamStatus:
        return await self._read("getStatus", self._status, id=upstream_order_id)

    def _status(self, text: str) -> UpstreamStatus:
        if text == "STATUS_WAIT_CODE":
            return UpstreamStatus(UpstreamState.WAITING)
        if text == "STATUS_CANCEL":
            return UpstreamStatus(UpstreamState.CANCELED)
        if text.startswith("STATUS_OK:") or text == "STATUS_OK":
            code = text.partition(":")[2].strip()
            return UpstreamStatus(UpstreamState.RECEIVED, (sms_text(code),))
        raise refusal(text, f"{self.code} getStatus")

    async def cancel(self, upstream_order_id: str) -> None:
        text = await self._write("setStatus", id=upstream_order_id, status="8")
        if text in CANCELED_ANSWERS:
            return
        if text == "STATUS_ALREADY_CHANGED":
            # Our own earlier cancel whose answer was lost, or an SMS/finish came first.
            current = await self.status(upstream_order_id)
            if current.state is UpstreamState.CANCELED:
                return
            raise Rejected(f"{self.code} setStatus 8: {text} ({current.state.value} upstream)")
        raise refusal(text, f"{self.code} setStatus 8")

    async def finish(self, upstream_order_id: str) -> None:
        text = await self._write("setStatus", id=upstream_order_id, status="6")
        # Already set (by our own lost earlier call, a cancel, or the expiry): released.
        if text in FINISHED_ANSWERS or text == "STATUS_ALREADY_CHANGED":
            return
        raise refusal(text, f"{self.code} setStatus 6")

    async def resend(self, upstream_order_id: str) -> bool:
        return False  # OTPGet has no resend: status 3 completes, like 6

    async def reactivation_cost(self, upstream_order_id: str) -> Money:
        raise NotSupported(f"{self.code} does not reactivate numbers")

    async def reactivate(self, upstream_order_id: str, reference: str) -> Purchase:
        raise NotSupported(f"{self.code} does not reactivate numbers")


def id_name(entry: Any) -> tuple[str | None, str | None]:
    """`{"id": "33", "name": "Canada"}` → ("33", "Canada"); (None, None) when malformed."""
    if not isinstance(entry, dict):
        return None, None
    raw_id, name = entry.get("id"), entry.get("name")
    if raw_id is None or not isinstance(name, str) or not name.strip():
        return None, None
    return str(raw_id).strip(), name.strip()
