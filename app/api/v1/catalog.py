"""GET /v1/catalog/*: countries, services, products, operators, exchange rate."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.api.envelope import ERRORS, Envelope, ok
from app.api.params import QueryIntId, RequiredIntId
from app.catalog import service
from app.catalog.schemas import (
    CountryRead,
    ExchangeRateRead,
    OperatorRead,
    ProductRead,
    ServiceRead,
)
from app.deps import PrincipalDep, ProviderCodesDep, SessionDep

router = APIRouter(prefix="/catalog", tags=["catalog"], responses=ERRORS)

IdQuery = QueryIntId
RequiredId = RequiredIntId


@router.get("/countries", responses={200: {"model": Envelope[list[CountryRead]]}})
async def list_countries(_: PrincipalDep, session: SessionDep) -> Response:
    """All countries."""
    return ok(await service.countries(session))


@router.get("/services", responses={200: {"model": Envelope[list[ServiceRead]]}})
async def list_services(
    _: PrincipalDep, session: SessionDep, providers: ProviderCodesDep, country_id: IdQuery = None
) -> Response:
    """Services; with country_id, only those with products in stock there."""
    return ok(await service.services(session, providers, country_id))


@router.get("/products", responses={200: {"model": Envelope[list[ProductRead]]}})
async def list_products(
    _: PrincipalDep,
    session: SessionDep,
    providers: ProviderCodesDep,
    country_id: IdQuery = None,
    platform_id: IdQuery = None,
    operator_id: IdQuery = None,
    sort: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """Active, in-stock products (tier slots) of enabled providers."""
    result = await service.products(
        session,
        providers,
        country_id=country_id,
        platform_id=platform_id,
        operator_id=operator_id,
        sort=sort,
        limit=limit,
        page=page,
    )
    return ok(result.items, {"page": result.page, "limit": result.limit, "count": result.count})


@router.get("/operators", responses={200: {"model": Envelope[list[OperatorRead]]}})
async def list_operators(
    _: PrincipalDep,
    session: SessionDep,
    providers: ProviderCodesDep,
    country_id: RequiredId,
    platform_id: RequiredId,
) -> Response:
    """Operators with stock for a country and service; empty when there is no choice."""
    return ok(await service.operators(session, providers, country_id, platform_id))


@router.get("/exchange-rate", responses={200: {"model": Envelope[ExchangeRateRead]}})
async def get_exchange_rate(
    _: PrincipalDep,
    session: SessionDep,
    pair: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The current rate of a currency pair (default USD/IDR)."""
    rate = await service.exchange_rate(session, pair)
    return ok(
        {
            "pair": rate.pair,
            "base_currency": rate.base_currency,
            "quote_currency": rate.quote_currency,
            "rate": rate.whole,
        }
    )
