"""Readiness: the database answers, its schema is at our migrations' head, and the poller
(when this process runs it) shows signs of life. Liveness needs nothing and is not here.

The database check is one tiny read, bounded by a timeout and remembered for
`readyz_cache_seconds`, so a load balancer probing every second costs nothing noticeable.
"""

import asyncio
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings

DB_TIMEOUT_SECONDS = 2.0


@cache
def revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(the heads of our migrations, every revision we know), read from disk once."""
    from alembic.script import ScriptDirectory

    from app.db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    known = frozenset(r.revision for r in script.walk_revisions())
    return frozenset(script.get_heads()), known


@dataclass(frozen=True)
class DatabaseCheck:
    ok: bool
    detail: dict[str, Any]


class Readiness:
    def __init__(
        self, engine: AsyncEngine, settings: Settings, poller: Any | None, task: Any | None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.poller = poller  # app.workers.poller.Poller, when run in this process
        self.task = task
        self._db: DatabaseCheck | None = None
        self._db_at = 0.0
        self._lock = asyncio.Lock()

    async def check(self) -> tuple[bool, dict[str, Any]]:
        database = await self._database()
        workers = self._workers()
        checks = {**database.detail, "workers": workers}
        ok = database.ok and workers["status"] in ("ok", "not run here")
        return ok, checks

    async def _database(self) -> DatabaseCheck:
        async with self._lock:
            fresh = time.monotonic() - self._db_at < self.settings.readyz_cache_seconds
            if self._db is None or not fresh:
                self._db = await self._check_database()
                self._db_at = time.monotonic()
            return self._db

    async def _check_database(self) -> DatabaseCheck:
        try:
            async with asyncio.timeout(DB_TIMEOUT_SECONDS):
                async with self.engine.connect() as conn:
                    rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
                    current = frozenset(r[0] for r in rows)
        except TimeoutError:
            return DatabaseCheck(False, {"database": {"status": "timeout"}})
        except Exception as exc:  # unreachable, auth, no alembic_version table: not ready
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return DatabaseCheck(False, {"database": {"status": "error", "error": reason}})
        heads, known = revisions()
        status = "ok" if current == heads else "ahead" if current - known else "behind"
        migrations = {"status": status, "current": sorted(current), "head": sorted(heads)}
        return DatabaseCheck(current == heads, {"database": {"status": "ok"},
                                                "migrations": migrations})  # fmt: skip

    def _workers(self) -> dict[str, Any]:
        if self.poller is None:
            return {"status": "not run here"}
        if self.task is not None and self.task.done():
            return {"status": "stopped"}
        silent = time.monotonic() - self.poller.last_beat
        if silent > self.settings.worker_stale_seconds:
            return {"status": "stalled", "silent_seconds": round(silent, 1)}
        return {"status": "ok"}
