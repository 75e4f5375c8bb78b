"""The explicit table of adapters, and building the enabled ones from Settings.

Adding a provider: one module, one line here, one settings block.
"""

from collections.abc import Callable

from app.config import Settings
from app.providers.base import Provider
from app.providers.sandbox import SandboxProvider

ADAPTERS: dict[str, Callable[[Settings], Provider]] = {
    "sandbox": lambda settings: SandboxProvider(),
}


def build_providers(settings: Settings) -> dict[str, Provider]:
    """One adapter per code in SMSGATE_PROVIDERS, in that order (settings validated the codes)."""
    return {code: ADAPTERS[code](settings) for code in settings.providers}
