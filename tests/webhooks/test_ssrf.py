"""The SSRF guard against a corpus of addresses in every spelling, and DNS answers."""

import ipaddress

import pytest

from app.webhooks.ssrf import UnsafeUrl, check_url, is_public, numeric_host


def resolver(answers: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("NXDOMAIN")
        return answers[host]

    return resolve


PUBLIC_DNS = resolver(
    {"hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]}
)

REFUSED = [
    # loopback in every spelling
    "https://127.0.0.1/x", "https://127.1/x", "https://0x7f000001/x", "https://017700000001/x",
    "https://2130706433/x", "https://0x7f.0.0.1/x", "https://0177.0.0.01/x", "https://[::1]/x",
    "https://[0:0:0:0:0:0:0:1]/x", "https://[::ffff:127.0.0.1]/x", "https://[::ffff:7f00:1]/x",
    # private ranges
    "https://10.0.0.1/", "https://10.255.255.255/", "https://172.16.0.1/", "https://172.31.9.9/",
    "https://192.168.1.1/", "https://0xc0a80101/", "https://3232235777/",
    # link-local and cloud metadata
    "https://169.254.169.254/latest/meta-data/", "https://0xa9fea9fe/", "https://2852039166/",
    "https://[fe80::1]/", "https://[::ffff:169.254.169.254]/",
    # CGNAT, ULA, multicast, reserved, unspecified, 6to4 of a private address, teredo
    "https://100.64.0.1/", "https://100.127.255.254/", "https://[fd00::1]/", "https://[fc00::1]/",
    "https://224.0.0.1/", "https://[ff02::1]/", "https://240.0.0.1/", "https://255.255.255.255/",
    "https://0.0.0.0/", "https://0/", "https://[::]/", "https://[2002:c0a8:0101::1]/",
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
]  # fmt: skip


@pytest.mark.parametrize("url", REFUSED)
async def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        await check_url(url, resolve=PUBLIC_DNS)


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.com/x", "ftp://hooks.example.com/", "hooks.example.com/x", "",
     "https://", "https://user:pw@hooks.example.com/", "https://hooks.example.com:99999/",
     "https://" + "a" * 2050 + ".com/", "javascript:alert(1)", "file:///etc/passwd"],
)  # fmt: skip
async def test_malformed_or_plain_http_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        await check_url(url, resolve=PUBLIC_DNS)


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    rebinder = resolver({"evil.example.com": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(UnsafeUrl, match="non-public"):
        await check_url("https://evil.example.com/hook", resolve=rebinder)
    metadata = resolver({"meta.example.com": ["169.254.169.254"]})
    with pytest.raises(UnsafeUrl):
        await check_url("https://meta.example.com/", resolve=metadata)
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        await check_url("https://nowhere.example.com/", resolve=metadata)


async def test_the_real_resolver_refuses_localhost() -> None:
    with pytest.raises(UnsafeUrl):
        await check_url("https://localhost/hook")


async def test_a_public_url_yields_the_addresses_to_connect_to() -> None:
    target = await check_url("https://hooks.example.com/in?x=1", resolve=PUBLIC_DNS)
    assert target.host == "hooks.example.com" and target.port == 443
    assert [str(a) for a in target.addresses] == [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
    ]


async def test_allow_private_permits_http_and_loopback_for_development() -> None:
    target = await check_url("http://127.0.0.1:8080/hook", allow_private=True)
    assert target.port == 8080 and str(target.addresses[0]) == "127.0.0.1"
    with pytest.raises(UnsafeUrl):
        await check_url("ftp://127.0.0.1/", allow_private=True)


@pytest.mark.parametrize(
    ("host", "address"),
    [("0x7f000001", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("2130706433", "127.0.0.1"),
     ("127.1", "127.0.0.1"), ("10.1", "10.0.0.1"), ("[::1]", "::1"), ("example.com", None),
     ("1.2.3.4.5", None), ("deadbeef", None)],
)  # fmt: skip
def test_numeric_host_spellings(host: str, address: str | None) -> None:
    parsed = numeric_host(host)
    assert (str(parsed) if parsed else None) == address


@pytest.mark.parametrize(
    ("address", "public"),
    [("93.184.216.34", True), ("8.8.8.8", True), ("2606:4700:4700::1111", True),
     ("100.64.0.1", False), ("::ffff:8.8.8.8", True), ("::ffff:10.0.0.1", False),
     ("192.0.2.1", False), ("198.18.0.1", False)],
)  # fmt: skip
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public
