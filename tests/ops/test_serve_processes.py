"""A real `smsgate serve`: metrics add up across `--workers 2`, and its whole stderr (JSON
lines from every process) holds none of the secrets the run used."""

import asyncio
import secrets
import time
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from tests.e2e.server import running_server
from tests.factories import Factory
from tests.ops.support import json_lines, parse_metrics, total, value
from tests.orders_api.support import START


def env_for(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SMSGATE_DATA_DIR": str(data_dir),
        "SMSGATE_BOOTSTRAP_DEMO": "false",
        "SMSGATE_RUN_WORKERS": "false",
        "SMSGATE_TOKEN_CACHE_SECONDS": "0",
        "SMSGATE_METRICS_DB_CACHE_SECONDS": "0",
        "SMSGATE_LOG_FORMAT": "json",
        "SMSGATE_LOG_LEVEL": "debug",
        **extra,
    }


async def fresh_connection_get(base_url: str, path: str, **kwargs) -> httpx.Response:
    """A new TCP connection per request, so the kernel may hand it to either worker."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as c:
        return await c.get(path, **kwargs)


def request_lines(log: Path, route: str) -> list[dict]:
    return [x for x in json_lines(log.read_text())
            if x.get("event") == "request" and x.get("route") == route]  # fmt: skip


async def test_metrics_add_up_across_two_workers(database_url, factory: Factory, tmp_path):
    data = tmp_path / "data"
    stale = data / "metrics" / "counter_999999.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over from a previous run")
    user = await factory.account(balance=START)
    log = tmp_path / "server.log"
    env = env_for(database_url, data)
    with running_server(env, tmp_path, extra_args=["--workers", "2"], log_file=log) as srv:
        assert not stale.exists()  # the metrics directory is emptied at start

        sent = 0
        while sent < 400:
            batch = await asyncio.gather(*(
                fresh_connection_get(srv.base_url, "/v1/balance", headers=user.headers)
                for _ in range(20)))  # fmt: skip
            assert all(r.status_code == 200 for r in batch)
            sent += len(batch)
            if len({x["pid"] for x in request_lines(log, "/v1/balance")}) == 2:
                break
        workers = {x["pid"] for x in request_lines(log, "/v1/balance")}
        assert len(workers) == 2, "the requests should have been spread over both workers"

        async with httpx.AsyncClient(base_url=srv.base_url) as c:
            products = (await c.get("/v1/catalog/products?limit=1", headers=user.headers)).json()
            product_id = products["data"][0]["id"]
            for _ in range(2):
                created = await c.post("/v1/orders/create", headers=user.headers,
                                       json={"product_id": product_id})  # fmt: skip
                assert created.status_code == 200, created.text

        # Every scrape, whichever worker answers it, shows the sum over both workers, and
        # the database gauges once (not once per worker).
        answered_by: set[int] = set()
        scrapes = 0
        while answered_by != workers and scrapes < 60:
            response = await fresh_connection_get(srv.base_url, "/metrics")
            assert response.status_code == 200
            scrapes += 1
            samples = parse_metrics(response.text)[1]
            assert value(samples, "smsgate_http_requests_total", route="/v1/balance",
                         method="GET", status="200") == sent  # fmt: skip
            assert value(samples, "smsgate_provider_calls_total", provider="sandbox",
                         operation="buy", outcome="ok") == 2  # fmt: skip
            assert value(samples, "smsgate_orders", status="ACTIVE", provider="sandbox") == 2
            assert total(samples, "smsgate_orders") == 2
            assert value(samples, "smsgate_accounts") == 1
            assert value(samples, "smsgate_ledger_entries", kind="order_debit") == 2
            answered_by = {x["pid"] for x in request_lines(log, "/metrics")}
        assert answered_by == workers, "both workers should have answered a scrape"


async def test_server_stderr_holds_no_secret(database_url, factory: Factory, tmp_path):
    url = make_url(database_url)
    db_password = url.password or "dbpw-" + secrets.token_hex(8)  # trust auth ignores it
    admin_token = "adm-" + secrets.token_urlsafe(16)
    metrics_token = "mt-" + secrets.token_hex(10)
    webhook_secret = "whsec_" + secrets.token_hex(16)
    stray_token = "sg_" + secrets.token_urlsafe(24)
    query_key = "qk-" + secrets.token_hex(10)
    user = await factory.account(balance=START)
    from app.webhooks.models import WebhookConfig

    async with factory.sessionmaker() as session, session.begin():
        await session.execute(insert(WebhookConfig).values(
            account_id=user.id, url="https://hooks.example/x", secret=webhook_secret))  # fmt: skip
    log = tmp_path / "server.log"
    env = env_for(
        url.set(password=db_password).render_as_string(hide_password=False),
        tmp_path / "data",
        SMSGATE_ADMIN_TOKEN=admin_token,
        SMSGATE_METRICS_TOKEN=metrics_token,
        SMSGATE_RUN_WORKERS="true",
        SMSGATE_POLL_INTERVAL_SECONDS="0.2",
        SMSGATE_SANDBOX_SMS_DELAY_SECONDS="0",
        SMSGATE_SANDBOX_NO_SMS_RATE="0",
    )
    with running_server(env, tmp_path, log_file=log) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as c:
            products = (await c.get("/v1/catalog/products?limit=1", headers=user.headers)).json()
            created = await c.post("/v1/orders/create", headers=user.headers,
                                   json={"product_id": products["data"][0]["id"]})  # fmt: skip
            assert created.status_code == 200, created.text
            hook = await c.get("/v1/webhook", headers=user.headers)
            assert hook.json()["data"]["webhook_secret"] == webhook_secret  # API.md shows it
            admin = {"Authorization": f"Bearer {admin_token}"}
            assert (await c.get("/admin/whoami", headers=admin)).status_code == 200
            assert (await c.get("/admin/whoami", headers=user.headers)).status_code == 403
            stray = {"Authorization": f"Bearer {stray_token}"}
            assert (await c.get("/v1/balance", headers=stray)).status_code == 401
            assert (await c.get(f"/v1/balance?api_key={query_key}")).status_code == 401
            scrape = {"Authorization": f"Bearer {metrics_token}"}
            assert (await c.get("/metrics", headers=scrape)).status_code == 200
            assert (await c.get("/metrics", headers=admin)).status_code == 401
            # The in-process poller delivers the SMS; the deadline only guards against a hang.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                order = (await c.get("/v1/orders/active", headers=user.headers)).json()["data"]
                if order and order[0]["status"] == "OTP_RECEIVED":
                    break
                await asyncio.sleep(0.1)
            assert order[0]["status"] == "OTP_RECEIVED"
    text = log.read_text()
    lines = json_lines(text)
    events = {x["event"] for x in lines}
    assert {"request", "provider call", "order transition"} <= events
    assert any(x.get("route") == "/admin/whoami" and x["status"] == 200 for x in lines)
    assert any(x.get("route") == "/metrics" and x["status"] == 401 for x in lines)
    for secret in (db_password, admin_token, metrics_token, webhook_secret, stray_token,
                   query_key, user.token):  # fmt: skip
        assert secret not in text, secret
