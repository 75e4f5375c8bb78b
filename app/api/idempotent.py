"""The HTTP edge of app.idempotency: the Idempotency-Key header, and `Endpoint`, one per
route that spends money, declared once next to its router.

    CREATE = Endpoint("v1:create", render=_created)
    ...
    return await CREATE.phased(ctx.autocommit, account_id, key, body, work, view=ctx)

`render(view, result)` turns the work's result into the success body that is stored and
replayed; `view` is what the request needs to show it (catalog names, the USD rate).
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.responses import Response

from app.api.envelope import error_bytes
from app.errors import GatewayError
from app.idempotency import service as idempotency
from app.idempotency.service import Answer

V = TypeVar("V")
R = TypeVar("R")


async def _key(
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=256)] = None,
) -> str | None:
    # Checked before the handler runs: a malformed key is refused before any work. Async:
    # FastAPI would run a plain def in its thread pool, a hop on the create path.
    return idempotency.check_key(idempotency_key)


IdempotencyKey = Annotated[str | None, Depends(_key)]


def _response(answer: Answer) -> Response:
    return Response(answer.body, status_code=answer.status, media_type="application/json")


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[V, R]):
    scope: str  # endpoint and version, e.g. "v1:create"
    render: Callable[[V, R], bytes]

    async def phased(
        self,
        autocommit: AsyncEngine,
        account_id: int,
        key: str | None,
        body: BaseModel | Mapping[str, Any],
        work: Callable[[], Awaitable[R]],
        *,
        view: V,
    ) -> Response:
        """For work that calls an upstream: no transaction is open while it runs. Its
        errors are answers too (stored and replayed: money may have moved)."""

        async def outcome() -> Answer:
            try:
                return Answer(200, self.render(view, await work()))
            except GatewayError as exc:
                return Answer(exc.status, error_bytes(exc))

        ask = idempotency.ask(account_id, self.scope, key, body)
        return _response(await idempotency.run_phased(autocommit, ask, outcome))

    async def in_transaction(
        self,
        session: AsyncSession,
        account_id: int,
        key: str | None,
        body: BaseModel | Mapping[str, Any],
        work: Callable[[], Awaitable[R]],
        *,
        view: V,
    ) -> Response:
        """For work that never leaves Postgres, all in `session`: an error propagates and
        rolls the claim back with the rest, leaving the key free."""

        async def outcome() -> Answer:
            return Answer(200, self.render(view, await work()))

        ask = idempotency.ask(account_id, self.scope, key, body)
        return _response(await idempotency.run_in_transaction(session, ask, outcome))
