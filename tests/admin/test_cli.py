"""The operator CLI (`smsgate orders …`, `report`, `accounts …`, `tokens list`): tables for
people, --json for scripts, the same services as /admin."""

import asyncio
import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from click.testing import Result
from typer.testing import CliRunner

from app.cli.main import cli
from app.db.engine import make_engine, make_sessionmaker
from app.ledger import service as ledger_service
from tests.admin.support import bulk_orders
from tests.factories import Factory

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def smsgate(database_url: str) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        result = runner.invoke(cli, list(args), env={"DATABASE_URL": database_url})
        assert "Traceback" not in result.stdout + result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result

    return invoke


@pytest.fixture
def orders(database_url: str) -> list[int]:
    """Two accounts and 300 bulk orders (plain def: the CLI runs its own event loop)."""

    async def make() -> list[int]:
        engine = make_engine(database_url)
        try:
            sm = make_sessionmaker(engine)
            await Factory(sm).sandbox_catalog()
            async with sm() as session, session.begin():
                ids = [await ledger_service.open_account(session, f"cli-{n}") for n in (1, 2)]
            await bulk_orders(sm, 300, ids, START)
            return ids
        finally:
            await engine.dispose()

    return asyncio.run(make())


def test_orders_search_show_export(smsgate: Callable[..., Result], orders: list[int]) -> None:
    found = smsgate("orders", "search", "--account-id", str(orders[0]), "--status", "completed",
                    "--limit", "20", "--json")  # fmt: skip
    assert found.exit_code == 0, found.stderr
    page = json.loads(found.stdout)
    assert len(page["orders"]) == 20 and page["next_cursor"]
    assert {o["status"] for o in page["orders"]} == {"COMPLETED"}
    more = smsgate("orders", "search", "--account-id", str(orders[0]), "--status", "COMPLETED",
                   "--cursor", page["next_cursor"], "--json")  # fmt: skip
    rest = json.loads(more.stdout)["orders"]
    assert rest and rest[0]["id"] < page["orders"][-1]["id"]
    assert len(page["orders"]) + len(rest) == 50  # i ≡ 2 (mod 6) in 1..300

    table = smsgate("orders", "search", "--phone", "+62 812 0000042")
    assert table.exit_code == 0 and "620000042" not in table.stdout
    assert "6281200" in table.stdout and "42" in table.stdout and "┃" in table.stdout

    by_upstream = smsgate("orders", "search", "--upstream-order-id", "up-42", "--json")
    order_id = json.loads(by_upstream.stdout)["orders"][0]["id"]
    shown = smsgate("orders", "show", str(order_id), "--json")
    assert json.loads(shown.stdout)["order"]["upstream_order_id"] == "up-42"
    assert "transitions" in smsgate("orders", "show", str(order_id)).stdout
    assert smsgate("orders", "show", "999999").exit_code == 1

    exported = smsgate("orders", "export", "--csv", "--status", "EXPIRED")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 50 and {r["status"] for r in rows} == {"EXPIRED"}
    assert "exported 50 orders" in exported.stderr
    bad = smsgate("orders", "search", "--status", "LOST")
    assert bad.exit_code == 2 and "status" in bad.stderr


def test_report(smsgate: Callable[..., Result], orders: list[int]) -> None:
    result = smsgate("report", "--from", "2026-01-01", "--to", "2026-12-31", "--by", "provider",
                     "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["group_by"] == "provider" and report["totals"]["revenue"] == 0  # no ledger
    table = smsgate("report", "--from", "2026-01-01", "--to", "2026-12-31")
    assert table.exit_code == 0 and "total" in table.stdout
    bad = smsgate("report", "--from", "2026-01-01", "--to", "2026-12-31", "--by", "planet")
    assert bad.exit_code == 2


def test_accounts_and_tokens(smsgate: Callable[..., Result], database_url: str) -> None:
    created = json.loads(smsgate("accounts", "create", "ops", "--balance", "500").stdout)
    account_id = created["account_id"]
    listed = json.loads(smsgate("accounts", "list", "--json").stdout)
    assert [(a["name"], a["balance"], a["disabled"]) for a in listed] == [("ops", 500, False)]
    assert "ops" in smsgate("accounts", "list").stdout
    shown = json.loads(smsgate("accounts", "show", str(account_id), "--json").stdout)
    assert shown["active_tokens"] == 1
    disabled = json.loads(smsgate("accounts", "disable", str(account_id), "--json").stdout)
    assert disabled["disabled"] is True
    assert json.loads(smsgate("accounts", "list", "--disabled", "--json").stdout)[0]["id"] == (
        account_id
    )
    assert json.loads(smsgate("accounts", "list", "--enabled", "--json").stdout) == []
    enabled = json.loads(smsgate("accounts", "enable", str(account_id), "--json").stdout)
    assert enabled["disabled"] is False
    tokens = smsgate("tokens", "list", str(account_id), "--json")
    listed_tokens = json.loads(tokens.stdout)
    assert [t["prefix"] for t in listed_tokens] == [created["token"][:10]]
    assert created["token"] not in tokens.stdout
    assert smsgate("accounts", "show", "9999").exit_code == 1
