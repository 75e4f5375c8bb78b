"""The built-in sandbox provider: a believable catalog and fake numbers, no upstream account.

The catalog is a fixed table, so product ids stay stable from one start to the next and
demos look the same everywhere. An activation's fate is decided at purchase and written
into its id (when it was bought, whether an SMS comes and with a code, the cost), so any
process can answer `status` for it; only what happens later (cancel, finish, resends) is
kept in this process's memory.
"""

import asyncio
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from cachetools import TTLCache
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from app.providers.base import (
    CancelTooEarly,
    Capabilities,
    CountryInfo,
    Indeterminate,
    Money,
    Offer,
    OperatorInfo,
    ProviderCatalog,
    Purchase,
    Rejected,
    ServiceInfo,
    Unavailable,
    UpstreamState,
    UpstreamStatus,
)
from app.providers.http import Timeouts
from app.providers.settings import ProviderSettings

COUNTRIES = (
    CountryInfo("ID", "Indonesia", "62", "🇮🇩", iso_code="ID"),
    CountryInfo("MY", "Malaysia", "60", "🇲🇾", iso_code="MY"),
    CountryInfo("PH", "Philippines", "63", "🇵🇭", iso_code="PH"),
    CountryInfo("TH", "Thailand", "66", "🇹🇭", iso_code="TH"),
    CountryInfo("VN", "Vietnam", "84", "🇻🇳", iso_code="VN"),
    CountryInfo("IN", "India", "91", "🇮🇳", iso_code="IN"),
    CountryInfo("US", "United States", "1", "🇺🇸", iso_code="US"),
    CountryInfo("GB", "United Kingdom", "44", "🇬🇧", iso_code="GB"),
)
DIAL = {c.code: c.dial_code for c in COUNTRIES}

SERVICES = (
    ServiceInfo("whatsapp", "WhatsApp", slug="whatsapp"),
    ServiceInfo("telegram", "Telegram", slug="telegram"),
    ServiceInfo("google", "Google", slug="google"),
    ServiceInfo("facebook", "Facebook", slug="facebook"),
    ServiceInfo("instagram", "Instagram", slug="instagram"),
    ServiceInfo("tiktok", "TikTok", slug="tiktok"),
    ServiceInfo("shopee", "Shopee", slug="shopee"),
    ServiceInfo("gojek", "Gojek", slug="gojek"),
)
SERVICE_NAMES = {s.code: s.name for s in SERVICES}

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
    "ID": 2500, "MY": 4000, "PH": 3500, "TH": 4500, "VN": 3000, "IN": 2000, "US": 9000,
    "GB": 11000,
}  # fmt: skip
SERVICE_WEIGHT = {
    "whatsapp": 1.6, "telegram": 1.4, "google": 1.0, "facebook": 0.8, "instagram": 0.9,
    "tiktok": 0.7, "shopee": 0.6, "gojek": 0.6,
}  # fmt: skip
# Services a country does not sell in the sandbox (so filters have something to filter).
NOT_SOLD = {
    ("US", "gojek"), ("GB", "gojek"), ("US", "shopee"), ("GB", "shopee"), ("IN", "gojek"),
    ("IN", "shopee"),
}  # fmt: skip
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
            tiers: list[tuple[str, str | None, float]] = [("any:standard", None, 1.0)]
            tiers += [
                (f"any:{t}", None, f) for t, f in EXTRA_TIERS.get((country.code, service.code), ())
            ]
            tiers += [
                (f"{op.code}:standard", op.code, 1.1 + 0.05 * i) for i, op in enumerate(operators)
            ]
            for suffix, operator, factor in tiers:
                key = f"{prefix}:{suffix}"
                offers.append(
                    Offer(
                        key,
                        country.code,
                        service.code,
                        operator,
                        Decimal(_round(base * factor)),
                        _stock(key),
                    )
                )
    return ProviderCatalog(COUNTRIES, SERVICES, OPERATORS, tuple(offers))


_SMS_TEMPLATES = (
    "Your {service} code: {a}-{b}. Don't share this code with others.",
    "<#> {service}: your verification code is {code}",
    "G-{code} is your {service} verification code.",
    "{code} adalah kode verifikasi {service} Anda.",
)
_CODELESS = "Welcome to {service}! Your account is almost ready."


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    sms_delay_seconds: float = 5.0
    min_cancel_seconds: int = 120
    rental_seconds: int = 1200
    resend_cooldown_seconds: int = 30
    failure_rate: float = 0.0
    no_sms_rate: float = 0.05
    codeless_rate: float = 0.05
    latency_ms: int = 0


class SandboxSettings(ProviderSettings):
    """SMSGATE_SANDBOX_*: fake numbers whose behaviour is set here."""

    model_config = SettingsConfigDict(env_prefix="SMSGATE_SANDBOX_")

    sms_delay_seconds: float = Field(default=5.0, ge=0)
    min_cancel_seconds: int = Field(default=120, ge=0)
    rental_seconds: int = Field(default=1200, ge=1)
    resend_cooldown_seconds: int = Field(default=30, ge=0)
    # Share of purchases that fail (split evenly: no stock, timeout, error, garbage).
    failure_rate: float = Field(default=0.0, ge=0, le=1)
    # Share of numbers that never get an SMS (they expire), and that get one without a code.
    no_sms_rate: float = Field(default=0.05, ge=0, le=1)
    codeless_rate: float = Field(default=0.05, ge=0, le=1)
    latency_ms: int = Field(default=0, ge=0, le=60_000)

    def config(self) -> SandboxConfig:
        return SandboxConfig(**self.model_dump())


@dataclass
class _Activation:
    """What this process knows beyond the id: later events."""

    canceled: bool = False
    finished: bool = False
    resends: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Id:
    """Everything about an activation that any process may need, in its upstream id."""

    bought_at: float
    fate: str  # c: SMS with a code, n: SMS without one, x: no SMS ever
    cost: int
    country: str
    service: str
    line: str  # the SIM: reactivations keep it, so the phone number stays
    nonce: str

    def encode(self) -> str:
        parts = (int(self.bought_at * 1000), self.fate, self.cost, self.country, self.service)
        return "-".join(("sbx", *map(str, parts), self.line, self.nonce))

    @property
    def phone(self) -> str:
        digits = str(int(self.line, 16) % 10**9).zfill(9)
        return f"+{DIAL.get(self.country, '1')}8{digits}"

    @classmethod
    def decode(cls, value: str) -> "_Id":
        try:
            _, ms, fate, cost, country, service, line, nonce = value.split("-")
            int(line, 16)
            return cls(int(ms) / 1000, fate, int(cost), country, service, line, nonce)
        except ValueError:
            raise Rejected(f"unknown sandbox activation {value!r}") from None


class SandboxProvider:
    name = "Sandbox (built-in, fake numbers)"

    def __init__(
        self,
        settings: SandboxConfig | None = None,
        *,
        code: str = "sandbox",
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.code = code
        self.settings = settings or SandboxConfig()
        self.capabilities = Capabilities(
            resend=True,
            reactivate=True,
            min_cancel_seconds=self.settings.min_cancel_seconds,
            rental_seconds=self.settings.rental_seconds,
            resend_cooldown_seconds=self.settings.resend_cooldown_seconds,
        )
        self._time = clock or time.time
        self._rng = rng or random.Random()
        # Bounded memory: nothing is asked about an activation long after its rental ends.
        keep = max(3 * self.settings.rental_seconds, 3600)
        self._activations: TTLCache[str, _Activation] = TTLCache(1_000_000, keep)
        self._purchases: TTLCache[str, Purchase] = TTLCache(1_000_000, keep)
        self._costs = {o.upstream_key: int(o.cost) for o in build_catalog().offers}
        # Test switches: tiers that answer "no numbers", and a forced failure mode.
        self.sold_out: set[str] = set()
        self.fail_next: list[str] = []

    def now(self) -> float:
        return self._time()

    def reset(self) -> None:
        """Forget every activation and switch, as a freshly started upstream would."""
        self._activations.clear()
        self._purchases.clear()
        self.sold_out.clear()
        self.fail_next.clear()

    async def _network(self) -> None:
        if self.settings.latency_ms:
            await asyncio.sleep(self.settings.latency_ms / 1000)

    async def catalog(self) -> ProviderCatalog:
        return build_catalog()

    async def balance(self) -> Money | None:
        return None

    def _fate(self) -> str:
        roll = self._rng.random()
        if roll < self.settings.no_sms_rate:
            return "x"
        if roll < self.settings.no_sms_rate + self.settings.codeless_rate:
            return "n"
        return "c"

    def _failure(self) -> str | None:
        if self.fail_next:
            return self.fail_next.pop(0)
        if self.settings.failure_rate and self._rng.random() < self.settings.failure_rate:
            return self._rng.choice(("no_stock", "timeout", "error", "garbage"))
        return None

    def _register(
        self, reference: str, country: str, cost: int, service: str, fate: str,
        line: str | None = None,
    ) -> Purchase:  # fmt: skip
        nonce = f"{self._rng.getrandbits(48):012x}"
        ident = _Id(self.now(), fate, cost, country, service, line or nonce, nonce)
        purchase = Purchase(ident.encode(), ident.phone)
        self._activations[purchase.upstream_order_id] = _Activation()
        self._purchases[reference] = purchase
        return purchase

    async def buy(self, upstream_key: str, reference: str) -> Purchase:
        await self._network()
        if upstream_key not in self._costs:
            raise Rejected(f"BAD_SERVICE: no tier {upstream_key!r}")
        if upstream_key in self.sold_out:
            raise Rejected("NO_NUMBERS")
        failure = self._failure()
        if failure == "no_stock":
            raise Rejected("NO_NUMBERS")
        if failure == "error":
            raise Unavailable("upstream answered 502")
        if failure == "garbage":
            raise Unavailable("upstream answered garbage: '<html>'")
        country, service = upstream_key.split(":")[:2]
        purchase = self._register(
            reference, country, self._costs[upstream_key], service, self._fate()
        )
        if failure == "timeout":
            # The number was bought, but the answer is lost on the way back.
            raise Indeterminate("timed out waiting for the answer")
        return purchase

    async def find_purchase(self, reference: str) -> Purchase | None:
        await self._network()
        return self._purchases.get(reference)

    def _messages(self, ident: _Id, activation: _Activation | None) -> tuple[str, ...]:
        now = self.now()
        delay = self.settings.sms_delay_seconds
        service = SERVICE_NAMES.get(ident.service, ident.service)
        texts: list[str] = []
        if ident.fate != "x" and now >= ident.bought_at + delay:
            texts.append(self._text(ident, 0, service, codeless=ident.fate == "n"))
        for i, asked_at in enumerate(activation.resends if activation else ()):
            if now >= asked_at + delay:
                texts.append(self._text(ident, i + 1, service, codeless=False))
        return tuple(texts)

    @staticmethod
    def _text(ident: _Id, revision: int, service: str, *, codeless: bool) -> str:
        if codeless:
            return _CODELESS.format(service=service)
        seed = int.from_bytes(
            hashlib.sha256(f"{ident.nonce}:{revision}".encode()).digest()[:8], "big"
        )
        code = str(seed % 900_000 + 100_000)
        template = _SMS_TEMPLATES[seed % len(_SMS_TEMPLATES)]
        return template.format(service=service, code=code, a=code[:3], b=code[3:])

    async def status(self, upstream_order_id: str) -> UpstreamStatus:
        await self._network()
        ident = _Id.decode(upstream_order_id)
        activation = self._activations.get(upstream_order_id)
        if activation and activation.canceled:
            return UpstreamStatus(UpstreamState.CANCELED)
        messages = self._messages(ident, activation)
        if activation and activation.finished:
            return UpstreamStatus(UpstreamState.FINISHED, messages)
        return UpstreamStatus(
            UpstreamState.RECEIVED if messages else UpstreamState.WAITING, messages
        )

    async def cancel(self, upstream_order_id: str) -> None:
        await self._network()
        ident = _Id.decode(upstream_order_id)
        if self.now() < ident.bought_at + self.settings.min_cancel_seconds:
            raise CancelTooEarly("EARLY_CANCEL_DENIED")
        activation = self._known(upstream_order_id)
        if self._messages(ident, activation):
            raise Rejected("an SMS was received already")
        activation.canceled = True

    async def finish(self, upstream_order_id: str) -> None:
        await self._network()
        _Id.decode(upstream_order_id)
        self._known(upstream_order_id).finished = True

    async def resend(self, upstream_order_id: str) -> bool:
        await self._network()
        _Id.decode(upstream_order_id)
        self._known(upstream_order_id).resends.append(self.now())
        return True

    async def reactivation_cost(self, upstream_order_id: str) -> Money:
        await self._network()
        ident = _Id.decode(upstream_order_id)
        activation = self._activations.get(upstream_order_id)
        if activation and activation.canceled:
            raise Rejected("a canceled number cannot be reactivated")
        return Money(Decimal(ident.cost))

    async def reactivate(self, upstream_order_id: str, reference: str) -> Purchase:
        cost = await self.reactivation_cost(upstream_order_id)
        ident = _Id.decode(upstream_order_id)
        return self._register(
            reference, ident.country, int(cost.amount), ident.service, "c", line=ident.line
        )

    def _known(self, upstream_order_id: str) -> _Activation:
        """This process's record of an activation (another process may have bought it)."""
        activation = self._activations.get(upstream_order_id)
        if activation is None:
            activation = self._activations[upstream_order_id] = _Activation()
        return activation


def build(settings: SandboxSettings, timeouts: Timeouts) -> SandboxProvider:
    return SandboxProvider(settings.config())  # in-process: no timeouts to honour
