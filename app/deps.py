"""Annotated dependency aliases for routers: sessions, the caller, the enabled providers."""

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Principal, TokenAuthenticator
from app.errors import Unauthorized
from app.orders.context import OrdersContext


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    async with request.app.state.sessionmaker() as session:
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


async def _principal(request: Request) -> Principal:
    authenticator: TokenAuthenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(bearer_token(request))
    if principal is None:
        raise Unauthorized()
    request.state.account_id = principal.account_id
    return principal


async def _provider_codes(request: Request) -> tuple[str, ...]:
    return request.app.state.provider_codes  # type: ignore[no-any-return]


async def _orders(request: Request) -> OrdersContext:
    return request.app.state.orders  # type: ignore[no-any-return]


# scope="function": the transaction commits when the handler returns, before the response
# is sent (the default, "request", would commit after it: a client could hold a 200 for a
# write that then fails to commit).
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
PrincipalDep = Annotated[Principal, Depends(_principal)]
ProviderCodesDep = Annotated[tuple[str, ...], Depends(_provider_codes)]
OrdersDep = Annotated[OrdersContext, Depends(_orders)]
