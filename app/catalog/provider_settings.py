"""What ops change about a provider: its pricing rule and its catalog mappings.

Both take effect at the next catalog sync (prices are computed there, never at order time).
"""

import re
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.mapping import canonical_country, service_slug
from app.catalog.models import CatalogMapping, Provider
from app.errors import NotFound, ValidationFailed
from app.kit.clock import rfc3339, utcnow

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", details={"fields": [{"field": field, "message": message}]}
    )


async def provider_id(session: AsyncSession, code: str) -> int:
    found = await session.scalar(select(Provider.id).where(Provider.code == code))
    if found is None:
        raise NotFound(f"No provider {code!r}.")
    return int(found)


async def set_pricing(
    session: AsyncSession,
    code: str,
    *,
    markup_percent: Decimal | None,
    fixed_fee: int | None,
    round_to: int | None,
) -> dict[str, Any]:
    """Set (or, with None, reset to the default) each part of a provider's pricing rule."""
    if markup_percent is not None and not Decimal(0) <= markup_percent <= Decimal(1000):
        raise _invalid("markup_percent", "must be between 0 and 1000")
    if fixed_fee is not None and fixed_fee < 0:
        raise _invalid("fixed_fee", "must not be negative")
    if round_to is not None and round_to < 1:
        raise _invalid("round_to", "must be at least 1")
    row = await session.get(Provider, await provider_id(session, code))
    assert row is not None
    row.markup_percent, row.fixed_fee, row.round_to = markup_percent, fixed_fee, round_to
    await session.flush()
    return {
        "provider": code,
        "markup_percent": None if markup_percent is None else format(markup_percent, "f"),
        "fixed_fee": fixed_fee,
        "round_to": round_to,
    }


async def set_mapping(
    session: AsyncSession, code: str, kind: str, upstream_code: str, canonical: str | None
) -> dict[str, Any]:
    """Map a provider's country (to an ISO code) or service (to a slug); None leaves it out."""
    if kind not in ("country", "service"):
        raise _invalid("kind", "must be country or service")
    if canonical is not None:
        if kind == "country":
            canonical = canonical.strip().upper()
            if canonical_country(canonical) is None:
                raise _invalid("canonical", f"{canonical!r} is not an ISO 3166-1 alpha-2 code")
        else:
            canonical = canonical.strip().lower()
            if not _SLUG.match(canonical):
                raise _invalid("canonical", "a service slug is lower-case words joined by '-'")
    pid = await provider_id(session, code)
    existing = await session.scalar(
        select(CatalogMapping.upstream_name).where(
            CatalogMapping.provider_id == pid,
            CatalogMapping.kind == kind,
            CatalogMapping.upstream_code == upstream_code,
        )
    )
    stmt = insert(CatalogMapping).values(
        provider_id=pid,
        kind=kind,
        upstream_code=upstream_code,
        upstream_name=existing or upstream_code,
        canonical_code=canonical,
        source="ops",
        last_seen_at=utcnow(),
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["provider_id", "kind", "upstream_code"],
            set_={"canonical_code": canonical, "source": "ops"},
        )
    )
    return {"provider": code, "kind": kind, "upstream_code": upstream_code,
            "canonical_code": canonical, "source": "ops"}  # fmt: skip


async def list_mappings(
    session: AsyncSession, code: str, *, unmapped_only: bool = False
) -> list[dict[str, Any]]:
    pid = await provider_id(session, code)
    stmt = (
        select(CatalogMapping)
        .where(CatalogMapping.provider_id == pid)
        .order_by(CatalogMapping.kind, CatalogMapping.upstream_code)
    )
    if unmapped_only:
        stmt = stmt.where(CatalogMapping.canonical_code.is_(None))
    return [
        {
            "kind": m.kind,
            "upstream_code": m.upstream_code,
            "upstream_name": m.upstream_name,
            "canonical_code": m.canonical_code,
            "source": m.source,
            "suggestion": service_slug(m.upstream_name) if m.kind == "service" else None,
            "last_seen_at": rfc3339(m.last_seen_at),
        }
        for m in await session.scalars(stmt)
    ]
