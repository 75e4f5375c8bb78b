"""/admin/rates: exchange rates."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.api.envelope import ok
from app.catalog import rates
from app.catalog import service as catalog_service
from app.deps import SessionDep

router = APIRouter(prefix="/rates")


class RateSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pair: str = Field(min_length=7, max_length=7, examples=["USD/IDR"])
    rate: str = Field(min_length=1, max_length=40, examples=["16250"])


@router.get("")
async def list_rates(session: SessionDep) -> Response:
    """Every stored rate (quote units per base unit) and when it was set."""
    return ok(await rates.list_rates(session))


@router.post("")
async def set_rate(body: RateSet, session: SessionDep) -> Response:
    """Set (or replace) a rate, e.g. {"pair": "USD/IDR", "rate": "16250"}."""
    stored = await catalog_service.set_rate(session, body.pair, body.rate)
    return ok(
        {
            "pair": stored.pair,
            "base_currency": stored.base_currency,
            "quote_currency": stored.quote_currency,
            "rate": format(stored.rate.normalize(), "f"),
            "updated_at": stored.as_of,
        }
    )
