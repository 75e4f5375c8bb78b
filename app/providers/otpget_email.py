"""OTPGet temporary e-mail activations through `email_handler.php` (seed 001): pure
protocol translation, no database, no settings.

Two servers with different shapes. Server 1 sells an address for one service (`service_id`
such as `ig`, `tg`, at a `domain`, default gmail.com); Server 2 sells an address of a domain
(gmail.com, mail.com, gmx.com ...), optionally for a `site`. Every later call names the
server the address was bought from, so `EmailPurchase.server` must be kept with it.

getEmailCode answers status 200 with `messages` (code received), 202 (still waiting) or
300 (cancelled). cancelEmail refunds when no code has arrived; when one had, it answers
with that code instead (the activation is complete upstream, nothing refunded), which this
module returns as `EmailState.RECEIVED` with the code. A buyEmail or cancelEmail whose answer
was lost is Indeterminate and never retried; getEmailHistory lists what was bought.
No expiry is documented: the caller expires an activation by cancelling it.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import httpx

from app.providers.base import Indeterminate, Rejected, Unavailable
from app.providers.otpget_json import (
    CURRENCY,
    Envelope,
    OtpgetJsonHandler,
    decimal,
    integer,
    text,
)

log = logging.getLogger(__name__)

DEFAULT_DOMAIN = "gmail.com"  # Server 1's default
HISTORY_PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class EmailOffer:
    """Server 1: one service at a domain (`upstream_key` "1:ig:gmail.com"); Server 2: one
    domain, any site (`upstream_key` "2:gmx.com", `service_code` None)."""

    upstream_key: str
    server: int
    service_code: str | None
    service_name: str | None
    domain: str
    cost: Decimal
    available: int
    currency: str = CURRENCY


@dataclass(frozen=True, slots=True)
class EmailPurchase:
    email_id: str
    server: int  # every later call names it
    email: str
    service: str
    domain: str  # the domain sold, which may differ from the one asked for
    price: Decimal
    new_balance: Decimal
    currency: str = CURRENCY


class EmailState(StrEnum):
    WAITING = "waiting"
    RECEIVED = "received"
    COMPLETED = "completed"  # history only: used, ended upstream
    CANCELED = "canceled"  # refunded upstream
    OTHER = "other"  # a history status the seed does not document: see `raw_status`


@dataclass(frozen=True, slots=True)
class EmailCode:
    state: EmailState  # WAITING, RECEIVED or CANCELED
    code: str | None = None
    text: str | None = None  # the letter's text, when OTPGet passes it on


@dataclass(frozen=True, slots=True)
class EmailRecord:
    email_id: str | None
    email: str
    state: EmailState
    raw_status: str
    server: int | None
    code: str | None


_HISTORY_STATES = {
    "waiting": EmailState.WAITING, "pending": EmailState.WAITING, "active": EmailState.WAITING,
    "received": EmailState.RECEIVED,
    "completed": EmailState.COMPLETED, "complete": EmailState.COMPLETED,
    "cancelled": EmailState.CANCELED, "canceled": EmailState.CANCELED,
    "refunded": EmailState.CANCELED,
}  # fmt: skip


def _rows(envelope: Envelope, field: str, what: str) -> list[Any]:
    rows = envelope.data.get(field)
    if not isinstance(rows, list):
        raise Unavailable(f"{what}: no {field!r} list in the answer")
    return rows


def _first_code(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """(code, text) from `messages[0]`, or from a top-level `code`."""
    messages = data.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    if isinstance(first, dict):
        code, body = str(first.get("code") or "").strip(), first.get("text")
        return code or None, body if isinstance(body, str) else None
    code = str(data.get("code") or "").strip()
    return code or None, None


class OtpgetEmail(OtpgetJsonHandler):
    """OTPGet's temporary e-mail at `<base_url>/email_handler.php`; every method raises
    only `UpstreamError` subclasses."""

    path = "email_handler.php"
    can_cancel = True  # before a code: refunded
    can_finish = False  # no "complete" call: a received code ends it

    def __init__(
        self,
        base_url: str,
        api_key: str,
        client: httpx.AsyncClient,
        *,
        code: str = "otpget_email",
        read_retries: int = 2,
        retry_backoff: float = 0.2,
    ) -> None:
        super().__init__(
            base_url, api_key, client, code=code,
            read_retries=read_retries, retry_backoff=retry_backoff,
        )  # fmt: skip

    # --- catalog ----------------------------------------------------------------------

    async def services(self, domain: str = DEFAULT_DOMAIN) -> tuple[EmailOffer, ...]:
        """Server 1: the services sold at `domain`."""

        def recognise(envelope: Envelope) -> tuple[EmailOffer, ...]:
            what = f"{self.code} getEmailServices server 1"
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            found = []
            for row in _rows(envelope, "services", what):
                try:
                    service = text(row["service_code"])
                    found.append(
                        EmailOffer(f"1:{service}:{domain}", 1, service,
                                   str(row.get("service_name") or service), domain,
                                   decimal(row["price"]), integer(row.get("count", 0)))
                    )  # fmt: skip
                except (KeyError, TypeError, ValueError, AttributeError):
                    log.warning("%s: skipping service %r", what, row)
            return tuple(found)

        return await self._read("getEmailServices", recognise, server="1", domain=domain)

    async def domains(self, site: str | None = None) -> tuple[EmailOffer, ...]:
        """Server 2: the domains sold (for `site`, when given)."""

        def recognise(envelope: Envelope) -> tuple[EmailOffer, ...]:
            what = f"{self.code} getEmailServices server 2"
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            found = []
            for row in _rows(envelope, "domains", what):
                try:
                    domain = text(row["domain"]).lower()
                    found.append(
                        EmailOffer(f"2:{domain}", 2, None, None, domain, decimal(row["price"]),
                                   integer(row.get("count", 0)))
                    )  # fmt: skip
                except (KeyError, TypeError, ValueError, AttributeError):
                    log.warning("%s: skipping domain %r", what, row)
            return tuple(found)

        extra = {"site": site} if site else {}
        return await self._read("getEmailServices", recognise, server="2", **extra)

    # --- activations ------------------------------------------------------------------

    async def buy_for_service(self, service_id: str, domain: str | None = None) -> EmailPurchase:
        """Server 1: an address for `service_id` (e.g. "ig"). Never retried."""
        if not service_id:
            raise Rejected(f"{self.code} buyEmail: Server 1 needs a service_id")
        extra = {"domain": domain} if domain else {}
        return await self._buy(1, service_id=service_id, **extra)

    async def buy_for_domain(self, domain: str, site: str | None = None) -> EmailPurchase:
        """Server 2: an address of `domain`, for `site` when given. Never retried."""
        if not domain:
            raise Rejected(f"{self.code} buyEmail: Server 2 needs a domain")
        extra = {"site": site} if site else {}
        return await self._buy(2, domain=domain, **extra)

    async def _buy(self, server: int, **params: str) -> EmailPurchase:
        def recognise(envelope: Envelope) -> EmailPurchase:
            what = f"{self.code} buyEmail server {server}"
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            d = envelope.data
            try:
                email = text(d["email"])
                if "@" not in email:
                    raise ValueError(email)
                return EmailPurchase(
                    text(d["email_id"]), integer(d.get("server", server)), email,
                    str(d.get("service") or ""), str(d.get("domain") or email.split("@")[1]),
                    decimal(d["price"]), decimal(d["balance"]),
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                # Status 200: an address was sold, but we cannot tell which. Look it up.
                raise Indeterminate(
                    f"{what}: malformed success {self._http.scrub(repr(d))}"
                ) from None

        return await self._write("buyEmail", recognise, server=str(server), **params)

    async def status(self, email_id: str, server: int) -> EmailCode:
        """Where the activation is: WAITING (202), RECEIVED with the code (200), CANCELED (300)."""

        def recognise(envelope: Envelope) -> EmailCode:
            what = f"{self.code} getEmailCode"
            if envelope.status == 202:
                return EmailCode(EmailState.WAITING)
            if envelope.status == 300:
                return EmailCode(EmailState.CANCELED)
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            messages = envelope.data.get("messages")
            if not messages and "code" not in envelope.data:
                return EmailCode(EmailState.WAITING)  # "200 && !empty(messages)" in the seed
            code, body = _first_code(envelope.data)
            return EmailCode(EmailState.RECEIVED, code, body)

        return await self._read("getEmailCode", recognise, email_id=email_id, server=str(server))

    async def cancel(self, email_id: str, server: int) -> EmailCode:
        """Cancel: CANCELED when refunded (or already cancelled), RECEIVED with the code when
        one had arrived (nothing refunded). Never retried: a lost answer is Indeterminate."""

        def recognise(envelope: Envelope) -> EmailCode:
            what = f"{self.code} cancelEmail"
            if envelope.status == 300:
                return EmailCode(EmailState.CANCELED)  # ours, whose answer was lost
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            code, body = _first_code(envelope.data)
            if code is not None:
                return EmailCode(EmailState.RECEIVED, code, body)
            return EmailCode(EmailState.CANCELED)

        return await self._write("cancelEmail", recognise, email_id=email_id, server=str(server))

    async def history(self, page: int = 1) -> tuple[EmailRecord, ...]:
        """One page (20 rows) of past purchases, as OTPGet orders them."""

        def recognise(envelope: Envelope) -> tuple[EmailRecord, ...]:
            what = f"{self.code} getEmailHistory"
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            found = []
            for row in _rows(envelope, "history", what):
                try:
                    raw = text(row["status"]).lower()
                    raw_id = row.get("email_id", row.get("id"))
                    server = row.get("server")
                    found.append(
                        EmailRecord(
                            text(raw_id) if raw_id not in (None, "") else None,
                            text(row["email_address"]), _HISTORY_STATES.get(raw, EmailState.OTHER),
                            raw, integer(server) if server not in (None, "") else None,
                            str(row.get("code") or "").strip() or None,
                        )
                    )  # fmt: skip
                except (KeyError, TypeError, ValueError, AttributeError):
                    log.warning("%s: skipping row %r", what, row)
            return tuple(found)

        return await self._read("getEmailHistory", recognise, page=str(page))
