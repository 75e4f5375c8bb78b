"""The explicit table of adapters, and building the enabled ones from Settings.

Adding a provider: one module, one line here, one settings block.
"""

from collections.abc import Callable

from app.config import Settings
from app.providers.base import Provider
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


def build_providers(settings: Settings) -> dict[str, Provider]:
    """One adapter per code in SMSGATE_PROVIDERS, in that order (settings validated the codes)."""
    return {code: ADAPTERS[code](settings) for code in settings.providers}
