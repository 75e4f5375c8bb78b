"""Is a webhook URL safe to call? Checked when it is saved and again before every delivery.

Only `https` (plus `http` and private hosts when SMSGATE_WEBHOOK_ALLOW_PRIVATE is on, for
local development and tests). The host is resolved once and every address it resolves to
must be global: no loopback, RFC 1918, link-local (169.254/16, the cloud metadata
endpoints), CGNAT 100.64/10, IPv6 ULA or link-local, IPv4-mapped or -embedded private
addresses, multicast, reserved or unspecified. Numeric hosts are read the way a socket
library would (`0x7f000001`, `017700000001`, `2130706433`, `127.1`), so no spelling slips
through. The caller connects to the checked addresses, never resolving again, so a DNS
answer that changes between check and use (rebinding) cannot redirect the request.
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_LENGTH = 2048
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NUMERIC_V4 = re.compile(r"^[0-9a-fA-FxX.]+$")


class UnsafeUrl(ValueError):
    """The URL may not be called; the message says why (safe to show the client)."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    scheme: str
    host: str  # as written (for the Host header and TLS server name)
    port: int
    addresses: tuple[IPAddress, ...]  # connect to these, not to a new lookup of `host`


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host means, in any spelling a resolver accepts; else None."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare.split("%")[0])
    except ValueError:
        pass
    if _NUMERIC_V4.match(bare):
        try:  # inet_aton: dotted, shortened, hex, octal and single-number forms
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
        if address.teredo is not None:
            return False
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def check_url(
    url: str, *, allow_private: bool = False, resolve: Resolver = system_resolver
) -> Target:
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL must be 1-{MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("the URL is malformed") from None
    allowed = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in allowed:
        raise UnsafeUrl("the URL must use https")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in the URL are not allowed")
    port = port or (443 if parts.scheme == "https" else 80)

    numeric = numeric_host(host)
    if numeric is not None:
        addresses: list[IPAddress] = [numeric]
    else:
        try:
            found = await resolve(host, port)
        except (OSError, UnicodeError):
            raise UnsafeUrl(f"the host {host!r} does not resolve") from None
        addresses = []
        for text in found:
            try:
                addresses.append(ipaddress.ip_address(text.split("%")[0]))
            except ValueError:
                raise UnsafeUrl(f"the host {host!r} resolves to something odd") from None
        if not addresses:
            raise UnsafeUrl(f"the host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise UnsafeUrl(f"the host {host!r} resolves to a non-public address")
    return Target(url, parts.scheme, host, port, tuple(dict.fromkeys(addresses)))
