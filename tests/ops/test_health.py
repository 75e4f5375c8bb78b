"""/healthz and /readyz: ready, database down, migrations behind, the poller stopped or
stalled — without a token, in the envelope."""

import asyncio
import time

import httpx
from alembic.script import ScriptDirectory
from asgi_lifespan import LifespanManager

from app.db import migrate
from app.main import create_app


async def get(app, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        return await c.get(path)


async def test_healthz_needs_nothing(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"status": "ok"}}
    assert response.headers["x-request-id"]


async def test_ready(client):
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["data"]["status"] == "ready"
    checks = body["data"]["checks"]
    assert checks["database"] == {"status": "ok"}
    assert checks["migrations"]["status"] == "ok"
    assert (
        checks["migrations"]["current"] == checks["migrations"]["head"] == [migrate.head_revision()]
    )
    assert checks["workers"] == {"status": "not run here"}  # the test app runs no poller


async def test_database_down(settings):
    app = create_app(settings.model_copy(update={
        "database_url": "postgresql://smsgate@127.0.0.1:1/nowhere"}))  # fmt: skip
    async with LifespanManager(app):
        started = time.monotonic()
        response = await get(app, "/readyz")
        assert time.monotonic() - started < 5
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "SERVICE_UNAVAILABLE"
        assert error["details"]["checks"]["database"]["status"] == "error"
        assert "migrations" not in error["details"]["checks"]
        # Liveness does not care.
        assert (await get(app, "/healthz")).status_code == 200


async def test_migrations_behind(settings, fresh_database):
    url = await asyncio.to_thread(fresh_database)
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    head = script.get_revision(script.get_current_head())
    previous = head.down_revision
    assert isinstance(previous, str)
    await asyncio.to_thread(migrate.upgrade, url, previous)
    app = create_app(settings.model_copy(update={"database_url": url}))
    async with LifespanManager(app):
        response = await get(app, "/readyz")
        assert response.status_code == 503
        checks = response.json()["error"]["details"]["checks"]
        assert checks["database"] == {"status": "ok"}
        assert checks["migrations"] == {
            "status": "behind", "current": [previous], "head": [head.revision]}  # fmt: skip

        await asyncio.to_thread(migrate.upgrade, url)
        app.state.runtime.readiness.settings = app.state.runtime.readiness.settings.model_copy(
            update={"readyz_cache_seconds": 0}
        )
        assert (await get(app, "/readyz")).status_code == 200


async def test_poller_stopped_or_stalled(settings, fresh_database):
    url = await asyncio.to_thread(fresh_database)
    await asyncio.to_thread(migrate.upgrade, url)
    app = create_app(settings.model_copy(update={"database_url": url, "run_workers": True}))
    async with LifespanManager(app):
        readiness = app.state.runtime.readiness
        response = await get(app, "/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["data"]["checks"]["workers"] == {"status": "ok"}

        readiness.poller.last_beat = time.monotonic() - settings.worker_stale_seconds - 1
        # A poller round beats again within 0.25 s when idle; check before it can.
        response = await get(app, "/readyz")
        assert response.status_code == 503
        workers = response.json()["error"]["details"]["checks"]["workers"]
        assert workers["status"] == "stalled" and workers["silent_seconds"] > 60

        readiness.poller.stop()
        await readiness.task
        response = await get(app, "/readyz")
        assert response.status_code == 503
        checks = response.json()["error"]["details"]["checks"]
        assert checks["workers"] == {"status": "stopped"}
        assert checks["database"] == {"status": "ok"}  # only the workers fail
