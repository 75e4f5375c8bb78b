"""`smsgate worker`'s own /healthz, /readyz and /metrics, on SMSGATE_WORKER_PORT.

The worker runs the poller, the webhook dispatcher and the catalog sync: its provider
calls, breaker states, poller rounds and webhook outcomes exist only in its process, so it
serves them itself. /metrics here carries this process's metrics only; the database gauges
(orders, ledger, backlog) come from the API's /metrics, so that summing over instances
does not count them twice.
"""

import contextlib

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.ops import probes, require_metrics_token
from app.errors import install_handlers
from app.observability import metrics
from app.runtime import Runtime


def create_worker_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="smsgate worker", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.runtime = runtime  # the worker's own: its poller is the one /readyz watches
    install_handlers(app)
    app.include_router(probes)

    @app.get("/metrics")
    async def get_metrics(request: Request) -> Response:
        require_metrics_token(request)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app


class OpsServer:
    """uvicorn inside the worker's event loop; `stop()` ends it with the workers."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        config = uvicorn.Config(
            create_worker_app(runtime), host=settings.host, port=settings.worker_port,
            log_config=None, access_log=False, lifespan="off",
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        # The worker has its own signal handlers; uvicorn must not swap (or re-raise) them.
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]

    async def run(self) -> None:
        await self.server.serve()

    def stop(self) -> None:
        self.server.should_exit = True
