"""HTTP plumbing shared by the upstream adapters: one boundary where transport failures and
broken answers become the normalized taxonomy, and where secrets are kept out of messages.

- Before the request left (connect errors, pool timeouts): `Unavailable`.
- After it left (read timeouts, resets, a dropped connection): `Indeterminate` for calls that
  change something upstream (a purchase may have happened: look it up, never re-buy);
  `Unavailable` for reads, which are retried a couple of times first.
- 429: `Unavailable` carrying `retry_after` from the Retry-After header; never retried here
  (the caller's rate cap honours it).
- Other statuses, HTML pages, empty bodies: the adapter's parser decides, and anything it
  does not recognise is `Unavailable`, never success.

Upstream keys travel in OTPGet's query string, so no URL ever goes into a message, and every
raw upstream text quoted in a message is scrubbed of the configured secrets. httpx logs each
request's URL at INFO level: a filter on its loggers masks the secrets there too.
"""

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from app.providers.base import ConfigError, Indeterminate, Unavailable

T = TypeVar("T")

RAW_LIMIT = 300  # characters of an upstream answer kept in an error message
_MASK = "***"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    base_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    read_retries: int = 2  # extra attempts for read-only calls
    retry_backoff: float = 0.2  # seconds, doubled per attempt


@dataclass(frozen=True, slots=True)
class Timeouts:
    """What every upstream shares (the core SMSGATE_UPSTREAM_* settings): the registry hands
    it to each adapter's factory next to the adapter's own settings block."""

    connect: float = 5.0
    read: float = 20.0
    read_retries: int = 2  # extra attempts for read-only calls


class _SecretFilter(logging.Filter):
    """Masks registered secrets (and any `api_key=` value) in records of the httpx loggers."""

    _API_KEY = re.compile(r"(api_key=)[^&\s\"']+")

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, _MASK)
        return self._API_KEY.sub(r"\1" + _MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), None
        return True


_FILTER = _SecretFilter()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_FILTER)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class UpstreamHttp:
    """One upstream's HTTP client. The adapter owns it and closes it with `aclose()`."""

    def __init__(
        self,
        provider: str,
        settings: HttpSettings,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self._secrets = tuple(s for s in secrets if s)
        _FILTER.secrets.update(self._secrets)
        self._sleep = sleep
        self._client = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/") + "/",
            headers=dict(headers or {}),
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def scrub(self, text: str) -> str:
        """`text` with every secret masked, cut to a length fit for an error message."""
        text = _FILTER.scrub(text)
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        text = " ".join(text.split())
        return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "…"

    def quote(self, response: httpx.Response) -> str:
        """The raw answer for an ops-facing message: `HTTP 200 'NO_NUMBERS'`."""
        return f"HTTP {response.status_code} {self.scrub(response.text)!r}"

    async def read(
        self,
        method: str,
        path: str,
        parse: Callable[[httpx.Response], T],
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> T:
        """A call that changes nothing upstream: retried on transient failures."""
        attempts = 1 + max(0, self.settings.read_retries)
        for attempt in range(attempts):
            try:
                response = await self._send(method, path, params, json, None, read_only=True)
                return parse(response)
            except Unavailable as exc:
                # A 429 is the upstream asking us to slow down: hand it to the rate cap.
                if exc.retry_after is not None or attempt == attempts - 1:
                    raise
                await self._sleep(self.settings.retry_backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def write(
        self,
        method: str,
        path: str,
        parse: Callable[[httpx.Response], T],
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """A call that may change something upstream (buy, cancel, finish): never retried;
        an answer lost after sending is `Indeterminate`."""
        response = await self._send(method, path, params, json, headers, read_only=False)
        return parse(response)

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        *,
        read_only: bool,
    ) -> httpx.Response:
        what = f"{self.provider} {path.lstrip('/')}"
        try:
            response = await self._client.request(
                method, path.lstrip("/"), params=params, json=json, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Unavailable(f"{what}: not sent: {self._describe(exc)}") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError) as exc:
            raise ConfigError(f"{what}: bad request setup: {self._describe(exc)}") from None
        except httpx.HTTPError as exc:  # read/write timeouts, resets, a dropped connection
            if read_only:
                raise Unavailable(f"{what}: no answer: {self._describe(exc)}") from None
            raise Indeterminate(
                f"{what}: sent, but the answer was lost ({self._describe(exc)})"
            ) from None
        if response.status_code == 429:
            raise Unavailable(
                f"{what}: rate limited: {self.quote(response)}", retry_after=retry_after(response)
            )
        return response

    def _describe(self, exc: Exception) -> str:
        # httpx messages do not carry the URL, but scrub anyway: they may quote the server.
        return self.scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))


def plain_text(http: UpstreamHttp, response: httpx.Response, what: str) -> str:
    """The body of a plain-text protocol answer; HTML pages, empty bodies and non-200
    statuses are transient upstream trouble, never an answer."""
    text = response.text.strip()
    if response.status_code != 200:
        raise Unavailable(f"{what}: unexpected {http.quote(response)}")
    if not text:
        raise Unavailable(f"{what}: empty answer (HTTP 200)")
    if text.startswith("<") or "<html" in text[:200].lower():
        raise Unavailable(f"{what}: HTML page instead of an answer: {http.quote(response)}")
    return text
