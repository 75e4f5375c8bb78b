"""Running a create-like request under its Idempotency-Key, rendering its final answer."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import Header
from pydantic import BaseModel
from starlette.responses import Response

from app.api.envelope import error_bytes
from app.errors import GatewayError
from app.orders.context import OrdersContext
from app.orders.idempotency import StoredResponse, check_key, request_hash, run_once

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=256)]


async def respond_once(
    ctx: OrdersContext,
    account_id: int,
    scope: str,
    key: str | None,
    body: BaseModel,
    work: Callable[[], Awaitable[Any]],
    render: Callable[[Any], bytes],
) -> Response:
    """`scope` names the endpoint and version ("v1:create"): the same key on another
    endpoint is another request, and a /v2 replay never returns a /v1 body."""
    key = check_key(key)
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)

    async def outcome() -> StoredResponse:
        try:
            return StoredResponse(200, render(await work()))
        except GatewayError as exc:
            return StoredResponse(exc.status, error_bytes(exc))

    stored = await run_once(
        ctx.autocommit, account_id, scope, key, request_hash(canonical), outcome
    )
    return Response(stored.body, status_code=stored.status, media_type="application/json")
