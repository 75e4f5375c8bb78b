"""The explicit table of adapters: code → (settings block, factory), and building the
enabled ones (SMSGATE_PROVIDERS, in that order), each behind its guard.

Adding a provider: one module with its settings block and `build`, one line in `ADAPTERS`.
The blocks of the enabled providers are read and validated at start (`load_blocks`, called
by the CLI before anything runs): a bad or missing value stops the gateway with a message
naming the environment variable.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import SecretStr, ValidationError

from app.config import Settings, UpstreamCaps
from app.providers import otpget, otpget_cheap, sandbox, smscode
from app.providers.guard import GuardPolicy, OnChange, guarded
from app.providers.http import Timeouts
from app.providers.otpget_common import OtpgetSettings
from app.providers.protocols import ActivationProvider
from app.providers.sandbox import SandboxSettings
from app.providers.settings import ProviderSettings
from app.providers.smscode import SmscodeSettings

S = TypeVar("S", bound=ProviderSettings)


@dataclass(frozen=True, slots=True)
class Adapter(Generic[S]):
    settings: type[S]
    # Every adapter of today sells activations; a provider of another family only will
    # widen this to `Upstream` (callers then take `protocols.sources(...)`).
    build: Callable[[S, Timeouts], ActivationProvider]


ADAPTERS: dict[str, Adapter[Any]] = {
    "sandbox": Adapter(SandboxSettings, sandbox.build),
    "otpget": Adapter(OtpgetSettings, otpget.build),
    "otpget_cheap": Adapter(OtpgetSettings, otpget_cheap.build),
    "smscode": Adapter(SmscodeSettings, smscode.build),
}


class ProviderSettingsError(ValueError):
    """The provider configuration cannot work; the message names the variables to fix."""


def _problems(code: str, block: type[ProviderSettings], exc: ValidationError) -> list[str]:
    prefix = str(block.model_config.get("env_prefix", ""))
    found = []
    for error in exc.errors():
        variable = (prefix + "_".join(str(part) for part in error["loc"][:1])).upper()
        if error["type"] == "missing":
            found.append(f"{variable} is required when SMSGATE_PROVIDERS includes {code}")
        else:
            found.append(f"{variable}: {error['msg']}")
    return found


def _check_codes(settings: Settings) -> None:
    known = ", ".join(ADAPTERS)
    for variable, codes in (
        ("SMSGATE_PROVIDERS", settings.providers),
        ("SMSGATE_UPSTREAM_CAPS", list(settings.upstream_caps)),
    ):
        unknown = sorted(set(codes) - set(ADAPTERS))
        if unknown:
            raise ProviderSettingsError(
                f"{variable} names unknown provider(s) {', '.join(unknown)}; known: {known}"
            )


def load_blocks(
    settings: Settings, codes: list[str] | None = None, *, env_file: str | None = ".env"
) -> dict[str, ProviderSettings]:
    """The settings block of every enabled provider (or of `codes`), read from the
    environment and `env_file`. Raises ProviderSettingsError naming every bad or missing
    variable, and any unknown provider code."""
    _check_codes(settings)
    blocks: dict[str, ProviderSettings] = {}
    problems: list[str] = []
    for code in settings.providers if codes is None else codes:
        block = ADAPTERS[code].settings
        try:
            blocks[code] = block(_env_file=env_file)
        except ValidationError as exc:
            problems += _problems(code, block, exc)
    if problems:
        raise ProviderSettingsError("; ".join(dict.fromkeys(problems)))
    return blocks


def secret_values(settings: Settings) -> list[str]:
    """The credentials in the enabled providers' blocks, for the log scrubber. A block that
    does not load is skipped: start-up refuses it anyway (`load_blocks`)."""
    found: list[str] = []
    for code in settings.providers:
        adapter = ADAPTERS.get(code)
        try:
            block = adapter.settings() if adapter else None
        except ValidationError:
            continue
        found += [v.get_secret_value() for _, v in block or () if isinstance(v, SecretStr)]
    return found


def timeouts(settings: Settings) -> Timeouts:
    return Timeouts(
        connect=settings.upstream_connect_timeout_seconds,
        read=settings.upstream_read_timeout_seconds,
        read_retries=settings.upstream_read_retries,
    )


def guard_policy(settings: Settings, code: str) -> GuardPolicy:
    capped = code != "sandbox"  # the sandbox is in-process: nothing to protect
    caps = settings.upstream_caps.get(code) or UpstreamCaps()
    concurrency = (
        settings.upstream_max_concurrency if caps.concurrency is None else caps.concurrency
    )
    rps = settings.upstream_max_rps if caps.rps is None else caps.rps
    return GuardPolicy(
        failures=settings.breaker_failures,
        window_seconds=settings.breaker_window_seconds,
        cooldown_seconds=settings.breaker_cooldown_seconds,
        funds_cooldown_seconds=settings.breaker_funds_cooldown_seconds,
        max_concurrency=concurrency if capped else 0,
        max_rps=rps if capped else 0.0,
        queue_seconds=settings.upstream_queue_seconds,
    )


def build_providers(
    settings: Settings,
    on_change: OnChange | None = None,
    *,
    blocks: Mapping[str, ProviderSettings] | None = None,
) -> dict[str, ActivationProvider]:
    """One guarded adapter per code in SMSGATE_PROVIDERS, in that order. `blocks` give some
    providers' settings outright (tests); the others are read by `load_blocks`.
    `on_change` hears every breaker state change."""
    _check_codes(settings)
    blocks = dict(blocks or {})
    missing = [code for code in settings.providers if code not in blocks]
    if missing:
        blocks |= load_blocks(settings, missing)
    shared = timeouts(settings)
    built: dict[str, ActivationProvider] = {}
    for code in settings.providers:
        adapter = ADAPTERS[code].build(blocks[code], shared)
        built[code] = guarded(adapter, guard_policy(settings, code), on_change)
    return built


@runtime_checkable
class _Closable(Protocol):
    async def aclose(self) -> None: ...


async def close_providers(providers: Mapping[str, object]) -> None:
    """Close the HTTP clients the adapters own (adapters without one are skipped)."""
    for provider in providers.values():
        if isinstance(provider, _Closable):
            await provider.aclose()
