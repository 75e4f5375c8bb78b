"""The explicit table of adapters, and building the enabled ones from Settings.

Adding a provider: one module, one line here, one settings block.
"""

from collections.abc import Callable

from app.config import Settings
from app.providers.base import Provider
from app.providers.guard import GuardedProvider, GuardPolicy, OnChange
from app.providers.sandbox import SandboxProvider, SandboxSettings


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


ADAPTERS: dict[str, Callable[[Settings], Provider]] = {
    "sandbox": _sandbox,
}


def guard_policy(settings: Settings, code: str) -> GuardPolicy:
    capped = code != "sandbox"  # the sandbox is in-process: nothing to protect
    return GuardPolicy(
        failures=settings.breaker_failures,
        window_seconds=settings.breaker_window_seconds,
        cooldown_seconds=settings.breaker_cooldown_seconds,
        funds_cooldown_seconds=settings.breaker_funds_cooldown_seconds,
        max_concurrency=settings.upstream_max_concurrency if capped else 0,
        max_rps=settings.upstream_max_rps if capped else 0.0,
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
