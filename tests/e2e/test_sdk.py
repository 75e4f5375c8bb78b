"""The official `smscode` SDK against a real `smsgate serve` process on loopback."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from smscode import SmscodeClient
from smscode.errors import NotFoundError, UnauthorizedError, ValidationError

from tests.e2e.server import ROOT, Server, running_server
from tests.factories import Factory


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "DATABASE_URL": database_url,
        "SMSGATE_BOOTSTRAP_DEMO": "false",
        "SMSGATE_TOKEN_CACHE_SECONDS": "0",
    }
    with running_server(env, tmp_path_factory.mktemp("serve")) as srv:
        yield srv


async def test_sdk_v1_catalog_and_balance(server: Server, factory: Factory) -> None:
    await factory.sandbox_catalog()
    await factory.rate("USD/IDR", "16250")
    user = await factory.account(balance=123_456)

    def drive() -> None:
        with SmscodeClient(token=user.token, base_url=server.base_url) as client:
            countries = client.v1.catalog.countries()
            indonesia = next(c for c in countries if c.code == "ID")
            assert indonesia.dial_code == "62" and indonesia.name == "Indonesia"

            services = client.v1.catalog.services(country_id=indonesia.id)
            whatsapp = next(s for s in services if s.code == "whatsapp")

            page = client.v1.catalog.products(
                country_id=indonesia.id, platform_id=whatsapp.id, sort="price_desc", limit=3
            )
            assert page.page == 1 and page.limit == 3 and page.count >= 3
            prices = [p.price for p in page.products]
            assert all(isinstance(p, int) for p in prices) and prices == sorted(prices)[::-1]
            assert all(
                p.catalog_product_id == page.products[0].catalog_product_id for p in page.products
            )

            operators = client.v1.catalog.operators(
                country_id=indonesia.id, platform_id=whatsapp.id
            )
            assert operators[0].code == "any" and operators[0].operator_id is None
            assert "telkomsel" in {o.code for o in operators}

            rate = client.v1.catalog.exchange_rate()
            assert rate.pair == "USD/IDR" and rate.rate == 16250

            balance = client.v1.balance.get()
            assert balance.balance == 123_456 and balance.currency == "IDR"

            with pytest.raises(NotFoundError):
                client.v1.catalog.exchange_rate(pair="EUR/IDR")
            with pytest.raises(ValidationError):
                client.v1.catalog.products(limit=0)

        with SmscodeClient(token="sg_not-a-real-token", base_url=server.base_url) as client:
            with pytest.raises(UnauthorizedError) as err:
                client.v1.balance.get()
            assert err.value.request_id

    await asyncio.to_thread(drive)


def test_make_run_experience(tmp_path: Path) -> None:
    """No configuration at all: embedded Postgres, sandbox catalog, a demo token that works,
    a clean stop, and a restart that keeps the data (same ids, same token, no second demo)."""
    env = {"SMSGATE_DATA_DIR": str(tmp_path / "data")}
    with running_server(env, tmp_path) as srv:
        token_file = tmp_path / "data" / "demo-token.txt"
        token = token_file.read_text().strip()
        with SmscodeClient(token=token, base_url=srv.base_url) as client:
            assert client.v1.balance.get().balance > 0
            first_ids = [p.id for p in client.v1.catalog.products(limit=10_000).products]
            assert first_ids
            assert client.v1.catalog.exchange_rate().rate > 0
        # A CLI command next to the running server joins its embedded Postgres...
        made = _cli(tmp_path, env, "accounts", "create", "side-by-side", "--balance", "7")
        assert made.returncode == 0, made.stderr
        side_token = json.loads(made.stdout)["token"]
        with SmscodeClient(token=side_token, base_url=srv.base_url) as client:
            assert client.v1.balance.get().balance == 7
        assert _embedded_postgres_running(tmp_path / "data" / "postgres")  # not stopped by it
        assert srv.stop() == 0
        log = srv.process.stderr.read()  # type: ignore[union-attr]
        assert token in log and str(token_file) in log
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    assert not _embedded_postgres_running(tmp_path / "data" / "postgres")
    # ...and alone it starts the server itself, and stops it again when done.
    audited = _cli(tmp_path, env, "audit")
    assert audited.returncode == 0 and json.loads(audited.stdout)["accounts"] == 2
    assert not _embedded_postgres_running(tmp_path / "data" / "postgres")

    with running_server(env, tmp_path) as srv:
        with SmscodeClient(token=token, base_url=srv.base_url) as client:
            assert [p.id for p in client.v1.catalog.products(limit=10_000).products] == first_ids
        srv.stop()
        assert token not in srv.process.stderr.read()  # type: ignore[union-attr]
    assert not _embedded_postgres_running(tmp_path / "data" / "postgres")


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SMSGATE_", "DATABASE"))}
    full.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=cwd, env=full, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip


def _embedded_postgres_running(pgdata: Path) -> bool:
    import psutil

    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(proc.info["cmdline"] or []):
            return True
    return False
