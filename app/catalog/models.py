"""The canonical catalog (countries, services, operators, catalog products), the providers'
tier slots (products) and exchange rates."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.engine import Base


class Provider(Base):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # The pricing rule of this provider's tiers; NULL takes the SMSGATE_PRICING_* default.
    markup_percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 3))
    fixed_fee: Mapped[int | None] = mapped_column(BigInteger)
    round_to: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProviderHealth(Base):
    """The last known health of a provider, written by the processes that call it (each
    process keeps its own breaker; this row is the latest report any of them made) and by
    the catalog sync (balance, last sync). Read by `smsgate providers status` and /admin."""

    __tablename__ = "provider_health"

    provider_id: Mapped[int] = mapped_column(Integer, ForeignKey("providers.id"), primary_key=True)
    breaker_state: Mapped[str] = mapped_column(Text, server_default=text("'closed'"))
    opened_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    total_failures: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    balance: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    balance_currency: Mapped[str | None] = mapped_column(Text)
    balance_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    last_sync_report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CatalogMapping(Base):
    """How one provider's country or service id maps onto the canonical catalog.

    Rows with `source = 'auto'` are written by the sync (resolved, or `canonical_code`
    NULL when it could not tell: those are the unmapped items ops are shown); ops correct
    or fill them (`source = 'ops'`), and the sync never overwrites an ops row.
    """

    __tablename__ = "catalog_mappings"
    __table_args__ = (
        UniqueConstraint("provider_id", "kind", "upstream_code"),
        CheckConstraint("kind IN ('country', 'service')", name="kind_known"),
        CheckConstraint("source IN ('auto', 'ops')", name="source_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, ForeignKey("providers.id"))
    kind: Mapped[str] = mapped_column(Text)
    upstream_code: Mapped[str] = mapped_column(Text)
    upstream_name: Mapped[str] = mapped_column(Text)
    canonical_code: Mapped[str | None] = mapped_column(Text)  # ISO alpha-2 or service slug
    source: Mapped[str] = mapped_column(Text, server_default=text("'auto'"))
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Country(Base):
    __tablename__ = "countries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)  # ISO 3166-1 alpha-2
    name: Mapped[str] = mapped_column(Text)
    dial_code: Mapped[str] = mapped_column(Text)  # digits, no '+'
    emoji: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)  # normalized slug
    name: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Operator(Base):
    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("country_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    country_id: Mapped[int] = mapped_column(Integer, ForeignKey("countries.id"))
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    local_name: Mapped[str | None] = mapped_column(Text)


class CatalogProduct(Base):
    """The stable umbrella for (country, service): every provider's tiers share it."""

    __tablename__ = "catalog_products"
    __table_args__ = (UniqueConstraint("country_id", "service_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    country_id: Mapped[int] = mapped_column(Integer, ForeignKey("countries.id"))
    service_id: Mapped[int] = mapped_column(Integer, ForeignKey("services.id"), index=True)


class Product(Base):
    """A tier slot: one provider's offer for a catalog product (and maybe an operator).

    Price and stock change in place; the row is never repointed to another offer.
    """

    __tablename__ = "products"
    __table_args__ = (
        # One slot per upstream tier and umbrella: when ops correct a mapping, the tier gets
        # a new slot under the right umbrella and the old one is retired (stock 0).
        UniqueConstraint("provider_id", "upstream_key", "catalog_product_id"),
        CheckConstraint("price >= cost", name="price_not_below_cost"),
        CheckConstraint("cost >= 0 AND available >= 0", name="non_negative"),
        Index("ix_products_catalog_product_id_price", "catalog_product_id", "price"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    catalog_product_id: Mapped[int] = mapped_column(Integer, ForeignKey("catalog_products.id"))
    provider_id: Mapped[int] = mapped_column(Integer, ForeignKey("providers.id"))
    operator_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("operators.id"))
    # The provider's own identity for this offer (its country/service/operator/tier codes).
    upstream_key: Mapped[str] = mapped_column(Text)
    cost: Mapped[int] = mapped_column(BigInteger)  # what the provider charges us, IDR
    price: Mapped[int] = mapped_column(BigInteger)  # what we charge, IDR
    upstream_cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    upstream_currency: Mapped[str | None] = mapped_column(Text)
    available: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ExchangeRate(Base):
    """Quote-currency units per one base-currency unit, e.g. USD/IDR 16250."""

    __tablename__ = "exchange_rates"
    __table_args__ = (CheckConstraint("rate > 0", name="rate_positive"),)

    pair: Mapped[str] = mapped_column(Text, primary_key=True)
    base_currency: Mapped[str] = mapped_column(Text)
    quote_currency: Mapped[str] = mapped_column(Text)
    rate: Mapped[Decimal] = mapped_column(Numeric(24, 8))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
