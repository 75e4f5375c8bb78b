"""The ASGI application: create_app() and its lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import api
from app.api.gate import AuthenticateFirst, InputPolicy
from app.api.methods import method_not_allowed
from app.config import Settings, get_settings
from app.errors import install_handlers
from app.observability.logs import configure_logging
from app.observability.metrics import process_exiting
from app.observability.middleware import AccessMiddleware, BodyLimitMiddleware, RequestIdMiddleware
from app.providers import registry as provider_registry
from app.runtime import running


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings, extra_secrets=provider_registry.secret_values(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with running(settings, workers=settings.run_workers) as runtime:
                app.state.runtime = runtime  # read through app.deps.runtime, typed
                yield
        finally:
            process_exiting()

    app = FastAPI(
        title="smsgate",
        version="0.1.0",
        summary="Virtual numbers and SMS one-time codes behind the smscode.gg API.",
        lifespan=lifespan,
    )
    install_handlers(app)
    app.add_exception_handler(405, method_not_allowed)  # before the HTTPException handler
    app.include_router(api.router)
    # Added innermost first: the access log sees every answer (a 413, the last-resort 500),
    # and the request id is on every response. The caller is authenticated before anything
    # reads the query or the body (the input policy reads both, through the size limit).
    app.add_middleware(InputPolicy)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuthenticateFirst)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(AccessMiddleware)
    return app
