"""Enabling the real upstreams: a missing credential fails at start, naming the setting."""

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from app.cli.main import cli
from app.config import KNOWN_PROVIDERS, Settings
from app.providers.guard import GuardedProvider
from app.providers.otpget import OtpgetProvider
from app.providers.otpget_cheap import OtpgetCheapProvider
from app.providers.registry import ADAPTERS, build_providers, close_providers
from app.providers.sandbox import SandboxProvider
from app.providers.smscode import SmscodeProvider


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("providers", "setting"),
    [
        ("otpget", "SMSGATE_OTPGET_API_KEY"),
        ("sandbox,otpget_cheap", "SMSGATE_OTPGET_API_KEY"),
        ("smscode", "SMSGATE_SMSCODE_TOKEN"),
    ],
)
def test_a_missing_key_fails_loudly(providers: str, setting: str) -> None:
    code = providers.split(",")[-1]
    with pytest.raises(ValidationError) as caught:
        settings(providers=providers)
    assert f"{setting} is required when SMSGATE_PROVIDERS includes {code}" in str(caught.value)
    with pytest.raises(ValidationError, match=setting):
        settings(providers=providers, otpget_api_key="  ", smscode_token="")


def test_the_command_says_which_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")  # no .env file
    result = CliRunner().invoke(cli, ["worker"], env={"SMSGATE_PROVIDERS": "sandbox,smscode"})
    assert result.exit_code == 1
    assert "SMSGATE_SMSCODE_TOKEN is required when SMSGATE_PROVIDERS includes smscode" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("raw", "types"), [("1", [1]), ("1, 3,3", [1, 3]), ("6,2", [6, 2])])
def test_otpget_types(raw: str, types: list[int]) -> None:
    assert settings(otpget_types=raw).otpget_types == types


@pytest.mark.parametrize("raw", ["0", "7", "1,x", ""])
def test_bad_otpget_types(raw: str) -> None:
    with pytest.raises(ValidationError, match="SMSGATE_OTPGET_TYPES"):
        settings(otpget_types=raw)


async def test_every_known_provider_is_built_and_closed() -> None:
    assert set(ADAPTERS) == set(KNOWN_PROVIDERS)
    configured = settings(
        providers="smscode,otpget,otpget_cheap,sandbox",
        otpget_api_key="k-otp",
        otpget_types="2,4",
        otpget_min_cancel_seconds=300,
        smscode_token="t-sms",
    )
    guarded = build_providers(configured)
    assert all(isinstance(p, GuardedProvider) for p in guarded.values())
    providers = {code: p.inner for code, p in guarded.items()}
    assert list(providers) == ["smscode", "otpget", "otpget_cheap", "sandbox"]
    assert isinstance(providers["smscode"], SmscodeProvider)
    assert isinstance(providers["otpget"], OtpgetProvider)
    assert isinstance(providers["otpget_cheap"], OtpgetCheapProvider)
    assert isinstance(providers["sandbox"], SandboxProvider)
    otpget = providers["otpget"]
    assert isinstance(otpget, OtpgetProvider)
    assert otpget.settings.types == (2, 4) and otpget.settings.api_key == "k-otp"
    assert otpget.capabilities.min_cancel_seconds == 300
    assert otpget.settings.base_url == "https://otpget.com/stubs"
    assert providers["otpget_cheap"].capabilities.min_cancel_seconds == 300
    await close_providers(guarded)  # through the guards
    assert otpget._http._client.is_closed


def test_secrets_are_not_in_the_settings_repr() -> None:
    configured = settings(providers="otpget", otpget_api_key="k-very-secret")
    assert "k-very-secret" not in repr(configured)


def test_caps_per_provider_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.providers.registry import guard_policy

    monkeypatch.setenv(
        "SMSGATE_UPSTREAM_CAPS",
        '{"otpget": {"concurrency": 4, "rps": 2.5}, "smscode": {"rps": 10}}',
    )
    configured = settings(upstream_max_concurrency=32, upstream_max_rps=0)
    otp, sms, cheap = (guard_policy(configured, c) for c in ("otpget", "smscode", "otpget_cheap"))
    assert (otp.max_concurrency, otp.max_rps) == (4, 2.5)
    assert (sms.max_concurrency, sms.max_rps) == (32, 10)
    assert (cheap.max_concurrency, cheap.max_rps) == (32, 0)
    assert guard_policy(configured, "sandbox").max_concurrency == 0  # never capped
    with pytest.raises(ValidationError, match="unknown provider"):
        settings(upstream_caps={"nope": {}})
    with pytest.raises(ValidationError):
        settings(upstream_caps={"otpget": {"burst": 3}})
