"""/admin/providers: list with product counts, enable and disable."""

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from app.api.envelope import ok
from app.catalog import providers
from app.deps import OrdersDep, SessionDep

router = APIRouter(prefix="/providers")

Code = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("")
async def list_providers(session: SessionDep, ctx: OrdersDep) -> Response:
    """Every known provider: enabled, configured here, product counts."""
    return ok(await providers.list_providers(session, ctx.provider_codes))


@router.post("/{code}/enable")
async def enable_provider(code: Code, session: SessionDep, ctx: OrdersDep) -> Response:
    """Offer and buy this provider's tiers again."""
    result = await providers.set_enabled(session, code, True, ctx.provider_codes)
    ctx.offers_cache.clear()
    return ok(result)


@router.post("/{code}/disable")
async def disable_provider(code: Code, session: SessionDep, ctx: OrdersDep) -> Response:
    """Stop offering and buying this provider's tiers; its live orders run to their end."""
    result = await providers.set_enabled(session, code, False, ctx.provider_codes)
    ctx.offers_cache.clear()
    return ok(result)
