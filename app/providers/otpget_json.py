"""What OTPGet's two JSON handlers share (seed 001): `rental-handler.php` and
`email_handler.php` take the API key in the query string and answer a JSON envelope
`{"status": "200", "message": "...", ...data}`, the outcome in its `status` (a string in the
seed's examples; a number is accepted too) rather than in the HTTP status.

The envelope's status maps to the taxonomy the same way for both (seed 001's error tables):
401 invalid key and 403 blocked → ConfigError; 400 bad parameters → Rejected (but
"Unknown action" / BAD_ACTION → ConfigError: we send only documented actions, so the base
URL points elsewhere); 402 insufficient balance → OutOfFunds; 404 not found / no pricing
/ no stock → Rejected; 500 database or connection error, 502 upstream error, 503 server
disabled → Unavailable. Any other status, an HTML page, an empty or non-JSON body is
Unavailable, never success. When OTPGet also sets the HTTP status (a PHP
`http_response_code`), a JSON envelope in the body still decides.

The runtime owns one shared `httpx.AsyncClient`; the clients here only borrow it (and never
close it). Amounts are parsed as Decimal straight from the JSON text (`120.00`), never
through a float.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import httpx

from app.providers.base import (
    ConfigError,
    OutOfFunds,
    Rejected,
    Unavailable,
    UpstreamError,
)
from app.providers.http import _FILTER, HttpSettings, UpstreamHttp

T = TypeVar("T")

CURRENCY = "PKR"
STATUS_ERRORS: dict[int, type[UpstreamError]] = {
    400: Rejected,
    401: ConfigError,
    403: ConfigError,
    402: OutOfFunds,
    404: Rejected,
    500: Unavailable,
    502: Unavailable,
    503: Unavailable,
}
_CONFIG_MESSAGES = ("unknown action", "bad_action")


@dataclass(frozen=True, slots=True)
class Envelope:
    status: int
    message: str
    data: dict[str, Any]


class SharedClientHttp(UpstreamHttp):
    """`UpstreamHttp`'s boundary (transport errors → taxonomy, secrets scrubbed, reads
    retried, writes never) over a client the runtime owns. Requests carry absolute URLs,
    so the shared client needs no base URL of ours; `aclose` leaves it open."""

    def __init__(
        self,
        provider: str,
        settings: HttpSettings,
        client: httpx.AsyncClient,
        *,
        secrets: tuple[str, ...],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # Not super().__init__: that builds a client of its own, and this one is borrowed.
        self.provider = provider
        self.settings = settings
        self._secrets = tuple(s for s in secrets if s)
        _FILTER.secrets.update(self._secrets)
        self._sleep = sleep
        self._client = client

    async def aclose(self) -> None:
        return None


def decimal(raw: Any) -> Decimal:
    """`"840.00"`, `120.00` (parsed as Decimal), `1,250.50` → Decimal; else ValueError."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise ValueError(raw)
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(raw) from None
    if not value.is_finite() or value < 0:
        raise ValueError(raw)
    return value


def integer(raw: Any) -> int:
    """`720`, `"720"` → 720; else ValueError."""
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str | Decimal) and str(raw).strip().isdigit():
        return int(str(raw).strip())
    raise ValueError(raw)


def text(raw: Any) -> str:
    """A non-empty string field (ids come as strings or numbers); else ValueError."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(raw)
    value = str(raw).strip()
    if not value:
        raise ValueError(raw)
    return value


def local_time(raw: Any, zone: tzinfo) -> datetime:
    """`"2026-04-09 21:55:55"` in `zone` (or an ISO-8601 stamp) → an aware UTC datetime."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(raw)
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


class OtpgetJsonHandler:
    """One JSON handler of OTPGet at `<base_url>/<path>`."""

    path: str

    def __init__(
        self,
        base_url: str,
        api_key: str,
        client: httpx.AsyncClient,
        *,
        code: str,
        read_retries: int = 2,
        retry_backoff: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.code = code
        self._api_key = api_key
        self._url = f"{base_url.rstrip('/')}/{self.path}"
        settings = HttpSettings(base_url, read_retries=read_retries, retry_backoff=retry_backoff)
        self._http = SharedClientHttp(code, settings, client, secrets=(api_key,), sleep=sleep)

    def refusal(self, envelope: Envelope, what: str) -> UpstreamError:
        """The error for an envelope that is not the answer the call expected."""
        said = f"{what}: status {envelope.status}: {self._http.scrub(envelope.message)!r}"
        if envelope.status == 400 and envelope.message.strip().lower().startswith(_CONFIG_MESSAGES):
            return ConfigError(said)
        error = STATUS_ERRORS.get(envelope.status)
        if error is None:
            return Unavailable(f"{what}: unrecognised answer, {said}")
        return error(said)

    async def _read(self, action: str, recognise: Callable[[Envelope], T], **params: str) -> T:
        """A call that changes nothing: an unrecognised answer is retried like a timeout."""
        return await self._http.read(
            "GET", self._url, self._parsing(action, recognise), params=self._params(action, params)
        )

    async def _write(self, action: str, recognise: Callable[[Envelope], T], **params: str) -> T:
        """A call that spends or changes something: never retried; a lost answer is
        Indeterminate (raised by the HTTP boundary)."""
        return await self._http.write(
            "GET", self._url, self._parsing(action, recognise), params=self._params(action, params)
        )

    def _params(self, action: str, params: dict[str, str]) -> dict[str, str]:
        return {"api_key": self._api_key, "action": action, **params}

    def _parsing(
        self, action: str, recognise: Callable[[Envelope], T]
    ) -> Callable[[httpx.Response], T]:
        what = f"{self.code} {action}"

        def parse(response: httpx.Response) -> T:
            return recognise(self._envelope(response, what))

        return parse

    def _envelope(self, response: httpx.Response, what: str) -> Envelope:
        body = response.text.strip()
        if not body:
            raise Unavailable(f"{what}: empty answer (HTTP {response.status_code})")
        if body.startswith("<") or "<html" in body[:200].lower():
            raise Unavailable(
                f"{what}: HTML page instead of an answer: {self._http.quote(response)}"
            )
        try:
            payload = json.loads(body, parse_float=Decimal)
        except ValueError:
            raise Unavailable(f"{what}: not JSON: {self._http.quote(response)}") from None
        status = payload.get("status") if isinstance(payload, dict) else None
        try:
            code = integer(status)
        except ValueError:
            raise Unavailable(f"{what}: no status in {self._http.quote(response)}") from None
        message = payload.get("message")
        return Envelope(code, message if isinstance(message, str) else "", payload)
