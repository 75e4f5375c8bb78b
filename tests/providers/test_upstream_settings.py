"""Each adapter's settings block, read by the registry: a missing or bad value fails at
start naming the variable; the core Settings know no provider."""

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli.main import cli
from app.config import Settings
from app.providers.guard import GuardedProvider
from app.providers.otpget import OtpgetProvider
from app.providers.otpget_cheap import OtpgetCheapProvider
from app.providers.otpget_common import OtpgetSettings
from app.providers.registry import (
    ADAPTERS,
    ProviderSettingsError,
    build_providers,
    close_providers,
    guard_policy,
    load_blocks,
)
from app.providers.sandbox import SandboxProvider, SandboxSettings
from app.providers.smscode import SmscodeProvider, SmscodeSettings

BLOCK_PREFIXES = ("SMSGATE_SANDBOX_", "SMSGATE_OTPGET_", "SMSGATE_SMSCODE_")


@pytest.fixture(autouse=True)
def no_provider_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets: no provider variable from the shell, no .env file."""
    for name in list(os.environ):
        if name.startswith(BLOCK_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


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
def test_a_missing_key_fails_loudly(
    providers: str, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = providers.split(",")[-1]
    configured = settings(providers=providers)
    expected = f"{setting} is required when SMSGATE_PROVIDERS includes {code}"
    with pytest.raises(ProviderSettingsError) as caught:
        load_blocks(configured)
    assert str(caught.value) == expected
    with pytest.raises(ProviderSettingsError, match=expected):
        build_providers(configured)
    monkeypatch.setenv(setting, "   ")  # blank is missing too
    with pytest.raises(ProviderSettingsError, match=expected):
        load_blocks(configured)


def test_every_problem_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSGATE_OTPGET_TYPES", "1,9")
    monkeypatch.setenv("SMSGATE_SANDBOX_NO_SMS_RATE", "2")
    with pytest.raises(ProviderSettingsError) as caught:
        load_blocks(settings(providers="sandbox,otpget,smscode"))
    message = str(caught.value)
    assert "SMSGATE_SANDBOX_NO_SMS_RATE: Input should be less than or equal to 1" in message
    assert "SMSGATE_OTPGET_API_KEY is required when SMSGATE_PROVIDERS includes otpget" in message
    assert "SMSGATE_OTPGET_TYPES: Value error, must be a comma list of 1-6" in message
    assert "SMSGATE_SMSCODE_TOKEN is required" in message


def test_the_command_says_which_setting() -> None:
    result = CliRunner().invoke(cli, ["worker"], env={"SMSGATE_PROVIDERS": "sandbox,smscode"})
    assert result.exit_code == 1
    assert "SMSGATE_SMSCODE_TOKEN is required when SMSGATE_PROVIDERS includes smscode" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_an_unknown_provider_is_refused_by_the_registry() -> None:
    configured = settings(providers="sandbox, NOPE")  # the core only splits and lowers
    assert configured.providers == ["sandbox", "nope"]
    for call in (load_blocks, build_providers):
        with pytest.raises(ProviderSettingsError) as caught:
            call(configured)
        assert str(caught.value) == (
            "SMSGATE_PROVIDERS names unknown provider(s) nope; "
            "known: sandbox, otpget, otpget_cheap, smscode"
        )
    result = CliRunner().invoke(cli, ["worker"], env={"SMSGATE_PROVIDERS": "nope"})
    assert result.exit_code == 1
    assert "SMSGATE_PROVIDERS names unknown provider(s) nope" in result.stderr


@pytest.mark.parametrize(("raw", "types"), [("1", (1,)), ("1, 3,3", (1, 3)), ("6,2", (6, 2))])
def test_otpget_types(raw: str, types: tuple[int, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSGATE_OTPGET_API_KEY", "k")
    monkeypatch.setenv("SMSGATE_OTPGET_TYPES", raw)
    block = load_blocks(settings(providers="otpget"))["otpget"]
    assert isinstance(block, OtpgetSettings) and block.types == types


@pytest.mark.parametrize("raw", ["0", "7", "1,x", ""])
def test_bad_otpget_types(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSGATE_OTPGET_API_KEY", "k")
    monkeypatch.setenv("SMSGATE_OTPGET_TYPES", raw)
    with pytest.raises(ProviderSettingsError, match="SMSGATE_OTPGET_TYPES: .*comma list of 1-6"):
        load_blocks(settings(providers="otpget"))


async def test_every_known_provider_is_built_from_its_block_and_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "OTPGET_API_KEY": "k-otp", "OTPGET_TYPES": "2,4", "OTPGET_MIN_CANCEL_SECONDS": "300",
        "SMSCODE_TOKEN": "t-sms", "SMSCODE_IDEMPOTENCY_PREFIX": "gw-2",
        "SANDBOX_SMS_DELAY_SECONDS": "7",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"SMSGATE_{name}", value)
    configured = settings(
        providers="smscode,otpget,otpget_cheap,sandbox", upstream_read_timeout_seconds=7.5
    )
    guarded = build_providers(configured)
    assert all(isinstance(p, GuardedProvider) for p in guarded.values())
    providers = {code: p.inner for code, p in guarded.items() if isinstance(p, GuardedProvider)}
    assert list(providers) == ["smscode", "otpget", "otpget_cheap", "sandbox"]
    otpget, cheap = providers["otpget"], providers["otpget_cheap"]
    smscode, sandbox = providers["smscode"], providers["sandbox"]
    assert isinstance(otpget, OtpgetProvider) and isinstance(cheap, OtpgetCheapProvider)
    assert isinstance(smscode, SmscodeProvider) and isinstance(sandbox, SandboxProvider)
    assert otpget.settings.types == (2, 4) and otpget.settings.api_key == "k-otp"
    assert otpget.capabilities.min_cancel_seconds == 300
    assert cheap.capabilities.min_cancel_seconds == 300  # one block for both handlers
    assert otpget.settings.base_url == "https://otpget.com/stubs"
    assert otpget.settings.read_timeout == 7.5  # the shared core timeouts
    assert smscode.settings.token == "t-sms" and smscode.settings.idempotency_prefix == "gw-2"
    assert sandbox.settings.sms_delay_seconds == 7
    await close_providers(guarded)  # through the guards
    assert otpget._http._client.is_closed


def test_a_block_reads_the_env_file_like_the_core_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SMSGATE_SMSCODE_TOKEN=from-dotenv\n")
    block = load_blocks(settings(providers="smscode"))["smscode"]
    assert isinstance(block, SmscodeSettings)
    assert block.token.get_secret_value() == "from-dotenv"
    with pytest.raises(ProviderSettingsError):
        load_blocks(settings(providers="smscode"), env_file=None)


def test_blocks_given_outright_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSGATE_SANDBOX_NO_SMS_RATE", "0.9")
    given = SandboxSettings(_env_file=None, no_sms_rate=0.25)  # type: ignore[call-arg]
    built = build_providers(settings(providers="sandbox"), blocks={"sandbox": given})
    guard = built["sandbox"]
    assert isinstance(guard, GuardedProvider) and isinstance(guard.inner, SandboxProvider)
    assert guard.inner.settings.no_sms_rate == 0.25


def test_the_core_settings_know_no_provider() -> None:
    assert set(ADAPTERS) == {"sandbox", "otpget", "otpget_cheap", "smscode"}
    for field in Settings.model_fields:
        assert not field.startswith(tuple(f"{code}_" for code in ADAPTERS)), field


def test_secrets_are_not_in_the_blocks_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSGATE_OTPGET_API_KEY", "k-very-secret")
    block = load_blocks(settings(providers="otpget"))["otpget"]
    assert "k-very-secret" not in repr(block) and "k-very-secret" not in str(block)


def test_caps_per_provider_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
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
    with pytest.raises(ProviderSettingsError, match="SMSGATE_UPSTREAM_CAPS names unknown"):
        load_blocks(settings(upstream_caps={"nope": {}}))
    with pytest.raises(ValueError):
        settings(upstream_caps={"otpget": {"burst": 3}})


def test_the_log_scrubber_knows_the_enabled_providers_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.providers.registry import secret_values

    monkeypatch.setenv("SMSGATE_OTPGET_API_KEY", "k-otp-in-logs")
    monkeypatch.setenv("SMSGATE_SMSCODE_TOKEN", "t-sms-in-logs")
    found = secret_values(settings(providers="sandbox,otpget"))
    assert "k-otp-in-logs" in found and "t-sms-in-logs" not in found  # smscode is off
    assert "t-sms-in-logs" in secret_values(settings(providers="smscode"))
