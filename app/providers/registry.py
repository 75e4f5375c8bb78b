"""The explicit table of adapters, and building the enabled ones from Settings.

Adding a provider: one module, one line here, one settings block.
"""

from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

from app.config import Settings, UpstreamCaps
from app.providers.base import Provider
from app.providers.guard import GuardedProvider, GuardPolicy, OnChange
from app.providers.otpget import OtpgetProvider
from app.providers.otpget_cheap import OtpgetCheapProvider
from app.providers.otpget_common import OtpgetSettings
from app.providers.sandbox import SandboxProvider, SandboxSettings
from app.providers.smscode import SmscodeProvider, SmscodeSettings


def _sandbox(settings: Settings) -> Provider:
    return SandboxProvider(
        SandboxSettings(
            sms_delay_seconds=settings.sandbox_sms_delay_seconds,
            min_cancel_seconds=settings.sandbox_min_cancel_seconds,
            rental_seconds=settings.sandbox_rental_seconds,
            resend_cooldown_seconds=settings.sandbox_resend_cooldown_seconds,
            failure_rate=settings.sandbox_failure_rate,
            no_sms_rate=settings.sandbox_no_sms_rate,
            codeless_rate=settings.sandbox_codeless_rate,
            latency_ms=settings.sandbox_latency_ms,
        )
    )


def _otpget_settings(settings: Settings) -> OtpgetSettings:
    # Settings validation guarantees the key when an OTPGet adapter is enabled.
    key = settings.otpget_api_key.get_secret_value() if settings.otpget_api_key else ""
    return OtpgetSettings(
        api_key=key,
        base_url=settings.otpget_base_url,
        types=tuple(settings.otpget_types),
        min_cancel_seconds=settings.otpget_min_cancel_seconds,
        rental_seconds=settings.otpget_rental_seconds,
        connect_timeout=settings.upstream_connect_timeout_seconds,
        read_timeout=settings.upstream_read_timeout_seconds,
        read_retries=settings.upstream_read_retries,
    )


def _otpget(settings: Settings) -> Provider:
    return OtpgetProvider(_otpget_settings(settings))


def _otpget_cheap(settings: Settings) -> Provider:
    return OtpgetCheapProvider(_otpget_settings(settings))


def _smscode(settings: Settings) -> Provider:
    token = settings.smscode_token.get_secret_value() if settings.smscode_token else ""
    return SmscodeProvider(
        SmscodeSettings(
            token=token,
            base_url=settings.smscode_base_url,
            idempotency_prefix=settings.smscode_idempotency_prefix,
            connect_timeout=settings.upstream_connect_timeout_seconds,
            read_timeout=settings.upstream_read_timeout_seconds,
            read_retries=settings.upstream_read_retries,
        )
    )


ADAPTERS: dict[str, Callable[[Settings], Provider]] = {
    "sandbox": _sandbox,
    "otpget": _otpget,
    "otpget_cheap": _otpget_cheap,
    "smscode": _smscode,
}


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
    settings: Settings, on_change: OnChange | None = None
) -> dict[str, GuardedProvider]:
    """One guarded adapter per code in SMSGATE_PROVIDERS, in that order (settings validated
    the codes). `on_change` hears every breaker state change."""
    return {
        code: GuardedProvider(ADAPTERS[code](settings), guard_policy(settings, code), on_change)
        for code in settings.providers
    }


@runtime_checkable
class _Closable(Protocol):
    async def aclose(self) -> None: ...


async def close_providers(providers: Mapping[str, object]) -> None:
    """Close the HTTP clients the adapters own (adapters without one are skipped)."""
    for provider in providers.values():
        if isinstance(provider, _Closable):
            await provider.aclose()
