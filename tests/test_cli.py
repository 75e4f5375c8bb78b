"""The `smsgate` command against the test database: JSON on stdout, `error:` messages on
stderr, exit codes 0/1/2, and never a traceback.

These are plain `def` tests: the command runs its own event loop (asyncio.run). Checks on
the database go through a short-lived engine of their own for the same reason.
"""

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from click.testing import Result
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from app.accounts.models import Account
from app.auth.models import ApiToken
from app.auth.service import Principal, TokenAuthenticator
from app.catalog.models import ExchangeRate
from app.cli.main import cli
from app.db import migrate
from app.db.engine import make_engine, make_sessionmaker
from app.ledger.models import LedgerEntry

T = TypeVar("T")


@pytest.fixture
def smsgate(database_url: str) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        result = runner.invoke(cli, list(args), env={"DATABASE_URL": database_url})
        for stream in (result.stdout, result.stderr):
            assert "Traceback" not in stream
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result

    return invoke


@pytest.fixture
def db(database_url: str) -> Callable[[Callable[[AsyncSession], Awaitable[T]]], T]:
    def run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def go() -> T:
            engine = make_engine(database_url)
            try:
                async with make_sessionmaker(engine)() as session:
                    return await work(session)
            finally:
                await engine.dispose()

        return asyncio.run(go())

    return run


def authenticate(database_url: str, token: str) -> Principal | None:
    async def go() -> Principal | None:
        engine = make_engine(database_url)
        try:
            return await TokenAuthenticator(make_sessionmaker(engine), 0).authenticate(token)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def ok_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def refused(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    return result.stderr


def create(smsgate, name: str = "acme", balance: int = 5_000) -> dict[str, Any]:
    return ok_json(smsgate("accounts", "create", name, "--balance", str(balance)))


class TestAccountsCreate:
    def test_prints_id_and_a_working_token(self, smsgate, db, database_url):
        out = create(smsgate)
        assert set(out) == {"account_id", "token"}
        assert isinstance(out["account_id"], int) and out["token"].startswith("sg_")
        principal = authenticate(database_url, out["token"])
        assert principal is not None and principal.account_id == out["account_id"]

        async def stored(session: AsyncSession) -> tuple[Any, ...]:
            account = await session.get(Account, out["account_id"])
            digest = await session.scalar(
                select(ApiToken.token_hash).where(ApiToken.account_id == out["account_id"])
            )
            return account.name, account.balance, bytes(digest)

        name, balance, digest = db(stored)
        assert (name, balance) == ("acme", 5_000)
        assert digest == hashlib.sha256(out["token"].encode()).digest()

    def test_default_balance_is_zero(self, smsgate, db):
        out = ok_json(smsgate("accounts", "create", "zero"))
        assert db(lambda s: s.get(Account, out["account_id"])).balance == 0
        assert db(lambda s: s.scalar(select(func.count()).select_from(LedgerEntry))) == 0

    def test_duplicate_name_is_exit_1(self, smsgate, db):
        create(smsgate, "acme")
        stderr = refused(smsgate("accounts", "create", "acme"), 1)
        assert stderr.startswith("error:") and "acme" in stderr
        assert db(lambda s: s.scalar(select(func.count()).select_from(Account))) == 1

    def test_negative_balance_is_exit_2(self, smsgate):
        result = smsgate("accounts", "create", "acme", "--balance", "-1")
        assert result.exit_code == 2

    def test_blank_name_is_exit_2(self, smsgate):
        stderr = refused(smsgate("accounts", "create", "   "), 2)
        assert stderr.startswith("error:")


class TestAccountsTopup:
    def test_prints_the_new_balance(self, smsgate, db):
        account_id = create(smsgate, balance=5_000)["account_id"]
        out = ok_json(smsgate("accounts", "topup", str(account_id), "2500", "--reference", "r"))
        assert out["account_id"] == account_id
        assert out["amount"] == 2_500 and out["balance"] == 7_500
        assert isinstance(out["entry_id"], int)
        entry = db(lambda s: s.get(LedgerEntry, out["entry_id"]))
        assert (entry.kind, entry.amount, entry.reference) == ("topup", 2_500, "r")

    def test_unknown_account_is_exit_1(self, smsgate):
        stderr = refused(smsgate("accounts", "topup", "999999", "100"), 1)
        assert stderr.startswith("error:")

    @pytest.mark.parametrize("amount", ["0", "-5", "abc", "1.5"])
    def test_bad_amount_is_exit_2(self, smsgate, db, amount):
        account_id = create(smsgate, balance=5_000)["account_id"]
        result = smsgate("accounts", "topup", str(account_id), amount)
        assert result.exit_code == 2 and result.stdout == ""
        assert db(lambda s: s.scalar(select(Account.balance))) == 5_000


class TestTokens:
    def test_create_issues_another_working_token(self, smsgate, database_url):
        account = create(smsgate)
        out = ok_json(smsgate("tokens", "create", str(account["account_id"])))
        assert set(out) == {"token_id", "account_id", "token", "prefix"}
        assert out["account_id"] == account["account_id"]
        assert out["token"] != account["token"] and out["prefix"] == out["token"][:10]
        principal = authenticate(database_url, out["token"])
        assert principal == Principal(account["account_id"], out["token_id"])

    def test_create_for_unknown_account_is_exit_1(self, smsgate):
        refused(smsgate("tokens", "create", "999999"), 1)

    def test_revoke_by_prefix(self, smsgate, database_url):
        account = create(smsgate)
        token = account["token"]
        out = ok_json(smsgate("tokens", "revoke", token[:10]))
        assert out["revoked"] is True and isinstance(out["token_id"], int)
        assert authenticate(database_url, token) is None

    def test_revoke_by_id_leaves_other_tokens(self, smsgate, database_url):
        account = create(smsgate)
        second = ok_json(smsgate("tokens", "create", str(account["account_id"])))
        out = ok_json(smsgate("tokens", "revoke", str(second["token_id"])))
        assert out == {"token_id": second["token_id"], "revoked": True}
        assert authenticate(database_url, second["token"]) is None
        assert authenticate(database_url, account["token"]) is not None

    def test_revoke_by_whole_token(self, smsgate, database_url):
        token = create(smsgate)["token"]
        ok_json(smsgate("tokens", "revoke", token))
        assert authenticate(database_url, token) is None

    def test_revoke_twice_is_harmless(self, smsgate):
        token = create(smsgate)["token"]
        first = ok_json(smsgate("tokens", "revoke", token[:10]))
        assert ok_json(smsgate("tokens", "revoke", token[:10])) == first

    @pytest.mark.parametrize("ref", ["sg_nothere", "424242"])
    def test_revoke_unknown_is_exit_1(self, smsgate, ref):
        create(smsgate)
        stderr = refused(smsgate("tokens", "revoke", ref), 1)
        assert stderr.startswith("error:")


class TestRates:
    def stored(self, db) -> list[tuple[str, Decimal]]:
        rows = db(lambda s: s.execute(select(ExchangeRate.pair, ExchangeRate.rate)))
        return [tuple(row) for row in rows.all()]

    def test_set_then_update_case_insensitively(self, smsgate, db):
        first = ok_json(smsgate("rates", "set", "USD/IDR", "16250"))
        assert first["pair"] == "USD/IDR"
        assert first["rate_as_of"].endswith("Z")
        second = ok_json(smsgate("rates", "set", "usd/idr", "16300.5"))
        assert second["pair"] == "USD/IDR" and second["rate"] == "16300.5"
        assert self.stored(db) == [("USD/IDR", Decimal("16300.5"))]

    @pytest.mark.parametrize("rate", ["16250", "100", "16000.00"])
    def test_whole_rate_prints_as_plain_digits(self, smsgate, db, rate):
        out = ok_json(smsgate("rates", "set", "USD/IDR", rate))
        assert self.stored(db) == [("USD/IDR", Decimal(rate))]
        # Scripts read this: a plain decimal, not scientific notation like "1.625E+4".
        assert out["rate"] == str(int(Decimal(rate)))

    @pytest.mark.parametrize(
        "args",
        [
            ("USDIDR", "1"),
            ("USD/USD", "1"),
            ("USD/IDR", "abc"),
            ("USD/IDR", "0"),
            ("USD/IDR", "1.123456789"),
            ("--", "USD/IDR", "-5"),
        ],
    )
    def test_bad_pair_or_rate_is_exit_2(self, smsgate, db, args):
        stderr = refused(smsgate("rates", "set", *args), 2)
        assert stderr.startswith("error:")
        assert self.stored(db) == []

    def test_negative_rate_looking_like_an_option_is_exit_2(self, smsgate, db):
        result = smsgate("rates", "set", "USD/IDR", "-5")
        assert result.exit_code == 2 and result.stdout == ""
        assert self.stored(db) == []


class TestMigrate:
    def test_prints_the_head_revision(self, smsgate):
        out = ok_json(smsgate("migrate"))
        assert out == {"migrated_to": migrate.head_revision()}
        assert out["migrated_to"]


class TestNoTraceback:
    def test_unreachable_database_is_a_message(self):
        result = CliRunner().invoke(
            cli,
            ["accounts", "create", "acme"],
            env={"DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none"},
        )
        assert result.exit_code == 1
        assert result.stderr.startswith("error: database error:")
        assert "Traceback" not in result.output


class TestProviders:
    def test_sync_then_status_then_pricing_applies_at_next_sync(self, smsgate, db):
        synced = smsgate("providers", "sync")
        assert synced.exit_code == 0, synced.stderr
        (outcome,) = json.loads(synced.stdout)["synced"]
        assert outcome["ok"] and outcome["provider"] == "sandbox" and outcome["offers"] > 50

        status = json.loads(smsgate("providers", "status").stdout)["providers"]
        sandbox = next(p for p in status if p["code"] == "sandbox")
        assert sandbox["breaker_state"] == "closed" and sandbox["last_sync_at"]
        assert sandbox["tiers"] == outcome["offers"]

        async def cheapest(session: AsyncSession) -> tuple[int, int]:
            from app.catalog.models import Product

            row = (
                await session.execute(
                    select(Product.cost, Product.price).where(Product.upstream_key ==
                                                              "ID:whatsapp:any:economy")
                )
            ).one()  # fmt: skip
            return int(row.cost), int(row.price)

        cost, _ = db(cheapest)
        priced = smsgate("providers", "pricing", "sandbox", "--markup", "50", "--round-to", "1")
        assert priced.exit_code == 0, priced.stderr
        assert smsgate("providers", "sync", "sandbox").exit_code == 0
        assert db(cheapest) == (cost, cost * 3 // 2)

    def test_map_validates_and_lists(self, smsgate):
        assert smsgate("providers", "sync").exit_code == 0
        bad = smsgate("providers", "map", "sandbox", "country", "XX", "ZZ")
        assert bad.exit_code == 2 and "ISO 3166-1" in bad.stderr
        assert smsgate("providers", "map", "nope", "country", "XX", "ID").exit_code == 1
        both = smsgate("providers", "map", "sandbox", "service", "gojek", "gojek", "--ignore")
        assert both.exit_code == 2
        done = smsgate("providers", "map", "sandbox", "service", "gojek", "--ignore")
        assert done.exit_code == 0, done.stderr
        listed = json.loads(smsgate("providers", "mappings", "sandbox", "--unmapped").stdout)
        assert [(m["upstream_code"], m["source"]) for m in listed["mappings"]] == [("gojek", "ops")]
        resynced = json.loads(smsgate("providers", "sync").stdout)["synced"][0]
        assert resynced["unmapped_services"] == ["gojek (Gojek)"]

    def test_sync_of_a_provider_not_enabled_is_refused(self, smsgate):
        result = smsgate("providers", "sync", "otpget")
        assert result.exit_code == 2 and "not enabled" in result.stderr
