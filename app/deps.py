"""Annotated dependency aliases for routers: the runtime and its parts, sessions, the caller."""

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.service import Principal
from app.config import Settings
from app.errors import Unauthorized
from app.orders.context import OrdersContext
from app.ratelimit.state import RateLimits
from app.runtime import Runtime


def runtime(request: Request) -> Runtime:
    """The process's object graph, which create_app's lifespan (or the worker's ops server)
    puts on the app: the one read of app.state."""
    built: Runtime = request.app.state.runtime
    return built


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    async with runtime(request).sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def bearer_token(request: Request, message: str | None = None) -> str:
    """The token of `Authorization: Bearer <token>`; 401 when missing or malformed."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        raise Unauthorized(message)
    return token


def token_matches(given: str, expected: SecretStr | None) -> bool:
    """Constant-time comparison with a configured token; an unset or empty one never matches."""
    secret = expected.get_secret_value() if expected is not None else ""
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


async def authenticate(request: Request) -> Principal:
    """The caller of a /v1 or /v2 request; 401 when the token is missing or unknown. Run by
    app.api.gate before routing; the principal stays on the request state for the routes."""
    principal = await runtime(request).authenticator.authenticate(bearer_token(request))
    if principal is None:
        raise Unauthorized()
    request.state.account_id = principal.account_id
    request.state.principal = principal
    return principal


async def _principal(request: Request) -> Principal:
    # Resolved already when the request came through the gate (the app always does).
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal if principal is not None else await authenticate(request)


async def _settings(request: Request) -> Settings:
    return runtime(request).settings


async def _sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return runtime(request).sessionmaker


async def _provider_codes(request: Request) -> tuple[str, ...]:
    return runtime(request).provider_codes


async def _orders(request: Request) -> OrdersContext:
    return runtime(request).orders


async def _rate_limits(request: Request) -> RateLimits:
    return runtime(request).rate_limits


# The aliases' dependencies are async: FastAPI would run a plain function in a thread.
async def _runtime(request: Request) -> Runtime:
    return runtime(request)


# scope="function": the transaction commits when the handler returns, before the response
# is sent (the default, "request", would commit after it: a client could hold a 200 for a
# write that then fails to commit).
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
PrincipalDep = Annotated[Principal, Depends(_principal)]
ProviderCodesDep = Annotated[tuple[str, ...], Depends(_provider_codes)]
OrdersDep = Annotated[OrdersContext, Depends(_orders)]
RuntimeDep = Annotated[Runtime, Depends(_runtime)]
SettingsDep = Annotated[Settings, Depends(_settings)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessionmaker)]
RateLimitsDep = Annotated[RateLimits, Depends(_rate_limits)]
