"""The base of every adapter's settings block.

Each adapter module declares its block (`OtpgetSettings`, `SandboxSettings` …) with its
own `env_prefix` (`SMSGATE_OTPGET_` …); the registry reads the blocks of the enabled
providers at start, so the core Settings never learn which providers exist. A block is
read from the environment and `.env`, like the core Settings; it turns itself into the
adapter's frozen config, which is all the adapter ever sees.
"""

from pydantic import SecretStr
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )


def required_secret(value: object) -> object:
    """A `mode="before"` check for credentials: blank counts as missing."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise PydanticCustomError("missing", "Field required")
    return value
