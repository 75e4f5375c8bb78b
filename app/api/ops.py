"""Operations endpoints without an account: liveness, readiness, Prometheus metrics.

/healthz and /readyz are unauthenticated (load balancers and orchestrators call them) and
answer in the envelope. /metrics speaks the Prometheus text format; it is open unless
SMSGATE_METRICS_TOKEN is set, then it wants that bearer token.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.envelope import ok
from app.deps import bearer_token, runtime, token_matches
from app.errors import ServiceUnavailable, Unauthorized
from app.kit.json import JSONResponse
from app.observability import metrics
from app.observability.logs import get_logger
from app.observability.metrics_db import Snapshot, SnapshotCollector

# Liveness and readiness, also served by `smsgate worker` (app.cli.worker_server): both
# read only `app.state.readiness`.
probes = APIRouter(tags=["operations"])
router = APIRouter(tags=["operations"])
router.include_router(probes)
log = get_logger(__name__)


@probes.get("/healthz")
async def get_health() -> JSONResponse:
    """Liveness: the process answers. Touches nothing else."""
    return ok({"status": "ok"})


@probes.get("/readyz")
async def get_readiness(request: Request) -> JSONResponse:
    """Readiness: database reachable, schema at head, workers alive; 503 with details if not."""
    readiness = runtime(request).readiness
    ready, checks = await readiness.check()
    if not ready:
        raise ServiceUnavailable("Not ready.", details={"checks": checks})
    return ok({"status": "ready", "checks": checks})


def require_metrics_token(request: Request) -> None:
    """Open unless SMSGATE_METRICS_TOKEN is set (an empty value counts as unset)."""
    settings = runtime(request).settings
    if settings.metrics_token is None or not settings.metrics_token.get_secret_value():
        return
    if not token_matches(bearer_token(request, "Metrics token required."), settings.metrics_token):
        raise Unauthorized("Metrics token required.")


@router.get("/metrics", include_in_schema=False)
async def get_metrics(request: Request) -> Response:
    require_metrics_token(request)
    snapshots = runtime(request).metrics_db
    snapshot: Snapshot | None
    try:
        snapshot = await snapshots.get()
    except Exception as exc:  # the process metrics are still worth serving
        log.warning("metrics: database gauges unavailable", error=type(exc).__name__)
        snapshot = None
    body = metrics.render(SnapshotCollector(snapshot))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
