"""One signed POST to a webhook receiver, to the very address the SSRF guard checked.

The URL is checked (and its host resolved) right before the request; the connection goes
to a checked IP literal, with the original host in the `Host` header and as the TLS server
name (SNI and certificate check), so a second DNS answer can never redirect it. Redirects
are not followed (a 3xx is a failed delivery) and the receiver's body is never read.
Nothing from httpx escapes: every outcome is a `SendResult`.
"""

import asyncio
import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from app.webhooks import ssrf

USER_AGENT = "smsgate-webhooks/1"


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None  # what the receiver answered, as-is
    error: str | None  # why there was no answer (refused URL, timeout, connection)
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def make_client() -> httpx.AsyncClient:
    # trust_env off: a proxy from the environment would do its own DNS lookup. No
    # keep-alive: we connect to pinned IPs, and the pool keys connections by IP and port
    # only, so a connection (and its certificate, checked for one account's host) would be
    # reused for another account's host on the same address.
    return httpx.AsyncClient(
        follow_redirects=False, trust_env=False, http2=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )  # fmt: skip


def _pinned_url(target: ssrf.Target, address: ssrf.IPAddress) -> str:
    parts = urlsplit(target.url)
    literal = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    return urlunsplit((parts.scheme, f"{literal}:{target.port}", parts.path or "/", parts.query,
                       ""))  # fmt: skip


def _host_header(target: ssrf.Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


async def send(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    *,
    secret: str | None,
    allow_private: bool,
    timeout_seconds: float,
    extra_headers: dict[str, str] | None = None,
) -> SendResult:
    """POST `body` to `url`, signed with `secret` when there is one."""
    started = time.monotonic()

    def done(status: int | None, error: str | None) -> SendResult:
        return SendResult(status, error, int((time.monotonic() - started) * 1000))

    try:
        # Looked up at call time, so tests can stand in a resolver.
        target = await ssrf.check_url(url, allow_private=allow_private,
                                      resolve=ssrf.system_resolver)  # fmt: skip
    except ssrf.UnsafeUrl as exc:
        return done(None, f"refused: {exc}")
    headers = {
        "Host": _host_header(target),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **(extra_headers or {}),
    }
    if secret:
        headers["X-Webhook-Signature"] = signature(secret, body)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    error = "no address to connect to"
    try:
        async with asyncio.timeout(timeout_seconds):
            for address in target.addresses:
                request = client.build_request(
                    "POST", _pinned_url(target, address), content=body, headers=headers,
                    extensions=extensions, timeout=timeout_seconds,
                )  # fmt: skip
                try:
                    response = await client.send(request, stream=True)
                except httpx.ConnectError as exc:
                    error = f"connect: {type(exc).__name__}"
                    continue  # the next checked address, never a new lookup
                await response.aclose()  # the body is never read
                return done(response.status_code, None)
    except TimeoutError:
        return done(None, "timeout")
    except httpx.TimeoutException:
        return done(None, "timeout")
    except httpx.HTTPError as exc:
        return done(None, f"transport: {type(exc).__name__}")
    return done(None, error)
