"""/v2/catalog: the /v1 catalog with prices in USD; money-free endpoints are /v1's own."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.api.envelope import ERRORS, ok
from app.api.v1 import catalog as v1
from app.api.v2.fx import FxDep
from app.catalog import service
from app.deps import PrincipalDep, ProviderCodesDep, SessionDep
from app.errors import NotFound

router = APIRouter(prefix="/catalog", tags=["v2 catalog"], responses=ERRORS)
for path, endpoint in (
    ("/countries", v1.list_countries),
    ("/services", v1.list_services),
    ("/operators", v1.list_operators),
):
    router.add_api_route(path, endpoint, methods=["GET"], name=f"v2_{endpoint.__name__}")


@router.get("/products")
async def list_products_usd(
    _: PrincipalDep,
    session: SessionDep,
    providers: ProviderCodesDep,
    fx: FxDep,
    country_id: v1.IdQuery = None,
    platform_id: v1.IdQuery = None,
    operator_id: v1.IdQuery = None,
    sort: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """Products with `price` as a USD money object."""
    result = await service.products(
        session, providers, country_id=country_id, platform_id=platform_id,
        operator_id=operator_id, sort=sort, limit=limit, page=page,
    )  # fmt: skip
    items = [{**item, "price": fx.price(item["price"])} for item in result.items]
    return ok(items, fx.meta(page=result.page, limit=result.limit, count=result.count))


@router.get("/exchange-rate")
async def get_fx_receipt(
    _: PrincipalDep, fx: FxDep, pair: Annotated[str | None, Query(max_length=16)] = None
) -> Response:
    """The USD/IDR rate /v2 amounts are computed with."""
    if pair is not None and service.parse_pair(pair) != ("USD", "IDR"):
        raise NotFound("/v2 knows only the USD/IDR pair.")
    return ok(fx.receipt())
