"""The built-in sandbox provider: a believable catalog and fake numbers, no upstream account.

The catalog is a fixed table, so product ids stay stable from one start to the next and
demos look the same everywhere. Ordering behaviour arrives with the orders work.
"""

import hashlib
from dataclasses import dataclass

from app.providers.base import CountryInfo, Offer, OperatorInfo, ProviderCatalog, ServiceInfo

COUNTRIES = (
    CountryInfo("ID", "Indonesia", "62", "🇮🇩"),
    CountryInfo("MY", "Malaysia", "60", "🇲🇾"),
    CountryInfo("PH", "Philippines", "63", "🇵🇭"),
    CountryInfo("TH", "Thailand", "66", "🇹🇭"),
    CountryInfo("VN", "Vietnam", "84", "🇻🇳"),
    CountryInfo("IN", "India", "91", "🇮🇳"),
    CountryInfo("US", "United States", "1", "🇺🇸"),
    CountryInfo("GB", "United Kingdom", "44", "🇬🇧"),
)

SERVICES = (
    ServiceInfo("whatsapp", "WhatsApp"),
    ServiceInfo("telegram", "Telegram"),
    ServiceInfo("google", "Google"),
    ServiceInfo("facebook", "Facebook"),
    ServiceInfo("instagram", "Instagram"),
    ServiceInfo("tiktok", "TikTok"),
    ServiceInfo("shopee", "Shopee"),
    ServiceInfo("gojek", "Gojek"),
)

OPERATORS = (
    OperatorInfo("ID", "telkomsel", "Telkomsel", "Telkomsel"),
    OperatorInfo("ID", "indosat", "Indosat Ooredoo", "Indosat"),
    OperatorInfo("ID", "xl", "XL Axiata", "XL"),
    OperatorInfo("ID", "tri", "3 Indonesia", "Tri"),
    OperatorInfo("MY", "maxis", "Maxis", "Maxis"),
    OperatorInfo("MY", "celcom", "Celcom", "Celcom"),
    OperatorInfo("PH", "globe", "Globe Telecom", "Globe"),
    OperatorInfo("PH", "smart", "Smart Communications", "Smart"),
    OperatorInfo("TH", "ais", "AIS", "เอไอเอส"),
    OperatorInfo("TH", "truemove", "TrueMove H", "ทรูมูฟ เอช"),
)

# IDR cost of an operator-agnostic number, per country and per service weight.
COUNTRY_BASE = {
    "ID": 2500,
    "MY": 4000,
    "PH": 3500,
    "TH": 4500,
    "VN": 3000,
    "IN": 2000,
    "US": 9000,
    "GB": 11000,
}
SERVICE_WEIGHT = {
    "whatsapp": 1.6,
    "telegram": 1.4,
    "google": 1.0,
    "facebook": 0.8,
    "instagram": 0.9,
    "tiktok": 0.7,
    "shopee": 0.6,
    "gojek": 0.6,
}
# Services a country does not sell in the sandbox (so filters have something to filter).
NOT_SOLD = {
    ("US", "gojek"),
    ("GB", "gojek"),
    ("US", "shopee"),
    ("GB", "shopee"),
    ("IN", "gojek"),
    ("IN", "shopee"),
}
# Extra quality tiers for the busiest pair: several prices under one catalog product.
EXTRA_TIERS = {("ID", "whatsapp"): (("economy", 0.7), ("premium", 1.8))}


def _stock(key: str) -> int:
    """Deterministic stock per tier; about one tier in nine is sold out."""
    n = int.from_bytes(hashlib.sha256(f"sandbox:{key}".encode()).digest()[:4], "big")
    return 0 if n % 9 == 0 else 20 + n % 4980


def _round(cost: float) -> int:
    return int(round(cost / 50.0) * 50)


def build_catalog() -> ProviderCatalog:
    offers: list[Offer] = []
    for country in COUNTRIES:
        operators = [op for op in OPERATORS if op.country_code == country.code]
        for service in SERVICES:
            if (country.code, service.code) in NOT_SOLD:
                continue
            base = COUNTRY_BASE[country.code] * SERVICE_WEIGHT[service.code]
            prefix = f"{country.code}:{service.code}"
            offers.append(
                Offer(
                    f"{prefix}:any:standard",
                    country.code,
                    service.code,
                    None,
                    _round(base),
                    _stock(f"{prefix}:any:standard"),
                )
            )
            for tier, factor in EXTRA_TIERS.get((country.code, service.code), ()):
                key = f"{prefix}:any:{tier}"
                offers.append(
                    Offer(key, country.code, service.code, None, _round(base * factor), _stock(key))
                )
            for i, op in enumerate(operators):
                key = f"{prefix}:{op.code}:standard"
                offers.append(
                    Offer(
                        key,
                        country.code,
                        service.code,
                        op.code,
                        _round(base * (1.1 + 0.05 * i)),
                        _stock(key),
                    )
                )
    return ProviderCatalog(COUNTRIES, SERVICES, OPERATORS, tuple(offers))


@dataclass
class SandboxProvider:
    code: str = "sandbox"
    name: str = "Sandbox (built-in, fake numbers)"

    async def catalog(self) -> ProviderCatalog:
        return build_catalog()
