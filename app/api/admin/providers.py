"""/admin/providers: list with health and product counts, enable and disable, pause and
resume, pricing rules, catalog mappings, and a sync on demand."""

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.api.envelope import ok
from app.catalog import health, jobs, provider_settings, providers, sync
from app.deps import OrdersDep, SessionDep, runtime
from app.errors import Conflict, NotFound, ProviderError
from app.providers.base import UpstreamError

router = APIRouter(prefix="/providers")

Code = Annotated[str, Path(min_length=1, max_length=64)]


class PricingBody(BaseModel):
    """Each part null = the SMSGATE_PRICING_* default."""

    model_config = ConfigDict(extra="forbid")
    markup_percent: Decimal | None = Field(default=None, ge=0, le=1000)
    fixed_fee: int | None = Field(default=None, ge=0)
    round_to: int | None = Field(default=None, ge=1)


class PauseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=3600, gt=0, le=30 * 86400)


class MappingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["country", "service"]
    upstream_code: str = Field(min_length=1, max_length=200)
    canonical_code: str | None = Field(max_length=64)  # null: leave the item out


@router.get("")
async def list_providers(session: SessionDep, ctx: OrdersDep) -> Response:
    """Every known provider: enabled, configured here, product counts, and health (the last
    breaker report any process made and this process's own breaker, upstream balance, last
    sync, pricing rule)."""
    rows = await providers.list_providers(session, ctx.provider_codes)
    reports = {row["code"]: row for row in await health.status(session)}
    for row in rows:
        report = reports.get(row["code"], {})
        live = ctx.providers.get(row["code"])
        breaker = getattr(live, "breaker", None)
        row["health"] = {
            key: report.get(key)
            for key in ("breaker_state", "opened_until", "consecutive_failures",
                        "total_failures", "last_error", "last_error_at", "balance",
                        "balance_currency", "balance_at", "last_sync_at", "last_sync_error",
                        "last_sync_report")
        }  # fmt: skip
        row["health"]["breaker_state_here"] = str(breaker.state) if breaker else None
        row["pricing"] = report.get("pricing")
    return ok(rows)


@router.put("/{code}/pricing")
async def set_pricing(code: Code, body: PricingBody, session: SessionDep) -> Response:
    """The provider's pricing rule; prices follow at the next catalog sync."""
    return ok(await provider_settings.set_pricing(session, code, **body.model_dump()))


@router.get("/{code}/mappings")
async def list_mappings(code: Code, session: SessionDep, unmapped: bool = False) -> Response:
    """How the provider's countries and services map onto the catalog (and which don't)."""
    return ok(await provider_settings.list_mappings(session, code, unmapped_only=unmapped))


@router.put("/{code}/mappings")
async def set_mapping(code: Code, body: MappingBody, session: SessionDep) -> Response:
    """Correct or fill one mapping; the sync never overwrites it. Applies at the next sync."""
    return ok(
        await provider_settings.set_mapping(
            session, code, body.kind, body.upstream_code, body.canonical_code
        )
    )


@router.post("/{code}/sync")
async def sync_now(code: Code, request: Request, ctx: OrdersDep) -> Response:
    """Pull this provider's catalog now (no transaction is open while the upstream answers)."""
    provider = ctx.providers.get(code)
    if provider is None:
        raise NotFound(f"Provider {code!r} is not enabled here (SMSGATE_PROVIDERS).")
    try:
        report = await jobs.sync_provider(
            runtime(request).sessionmaker, code, provider, ctx.settings
        )
    except UpstreamError as exc:
        raise ProviderError(f"Catalog sync failed: {exc.message}") from None
    except sync.MissingRate as exc:
        raise Conflict(str(exc)) from None
    ctx.offers_cache.clear()
    return ok(report.as_dict())


@router.post("/{code}/enable")
async def enable_provider(code: Code, session: SessionDep, ctx: OrdersDep) -> Response:
    """Offer and buy this provider's tiers again."""
    result = await providers.set_enabled(session, code, True, ctx.provider_codes)
    await session.commit()  # before the cache is cleared, or a buy could re-cache the old state
    ctx.offers_cache.clear()
    return ok(result)


@router.post("/{code}/disable")
async def disable_provider(code: Code, session: SessionDep, ctx: OrdersDep) -> Response:
    """Stop offering and buying this provider's tiers; its live orders run to their end."""
    result = await providers.set_enabled(session, code, False, ctx.provider_codes)
    await session.commit()  # before the cache is cleared, or a buy could re-cache the old state
    ctx.offers_cache.clear()
    return ok(result)


async def _pause(code: str, seconds: float | None, session: SessionDep, ctx: OrdersDep) -> Response:
    recorded = await health.record_pause(session, code, seconds)
    if recorded is None:
        raise NotFound(f"Unknown provider {code!r}.")
    await session.commit()
    # This process follows at once; the others at their next refresh of provider_health.
    adopt = getattr(ctx.providers.get(code), "adopt", None)
    if adopt is not None:
        until = recorded.get("opened_until")
        adopt(recorded["breaker_state"], until.timestamp() if until else None,
              recorded.get("last_error"), recorded["updated_at"].timestamp())  # fmt: skip
    return ok(health.shown(recorded))


@router.post("/{code}/pause")
async def pause_provider(
    code: Code, session: SessionDep, ctx: OrdersDep, body: PauseBody | None = None
) -> Response:
    """Hold this provider's purchases back for `seconds` (default an hour), in every process;
    probes leave it paused. Polls and cancels of its live orders go on."""
    return await _pause(code, (body or PauseBody()).seconds, session, ctx)


@router.post("/{code}/resume")
async def resume_provider(code: Code, session: SessionDep, ctx: OrdersDep) -> Response:
    """Let this provider's purchases go out again now, in every process (whatever paused it:
    ops, out of funds, a refused key or the breaker)."""
    return await _pause(code, None, session, ctx)
