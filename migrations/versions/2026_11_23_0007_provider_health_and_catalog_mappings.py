"""provider health and catalog mappings

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-23 15:31:44.397081
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("upstream_code", sa.Text(), nullable=False),
        sa.Column("upstream_name", sa.Text(), nullable=False),
        sa.Column("canonical_code", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), server_default=sa.text("'auto'"), nullable=False),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('country', 'service')", name=op.f("ck_catalog_mappings_kind_known")
        ),
        sa.CheckConstraint(
            "source IN ('auto', 'ops')", name=op.f("ck_catalog_mappings_source_known")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_catalog_mappings_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_mappings")),
        sa.UniqueConstraint(
            "provider_id",
            "kind",
            "upstream_code",
            name=op.f("uq_catalog_mappings_provider_id_kind_upstream_code"),
        ),
    )
    op.create_table(
        "provider_health",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("breaker_state", sa.Text(), server_default=sa.text("'closed'"), nullable=False),
        sa.Column("opened_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "consecutive_failures", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("total_failures", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("balance", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("balance_currency", sa.Text(), nullable=True),
        sa.Column("balance_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_error", sa.Text(), nullable=True),
        sa.Column("last_sync_report", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_provider_health_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_provider_health")),
    )
    op.add_column(
        "orders", sa.Column("upstream_cost", sa.Numeric(precision=20, scale=6), nullable=True)
    )
    op.add_column("orders", sa.Column("upstream_currency", sa.Text(), nullable=True))
    op.add_column(
        "providers", sa.Column("markup_percent", sa.Numeric(precision=7, scale=3), nullable=True)
    )
    op.add_column("providers", sa.Column("fixed_fee", sa.BigInteger(), nullable=True))
    op.add_column("providers", sa.Column("round_to", sa.Integer(), nullable=True))
    op.drop_constraint("uq_products_provider_id_upstream_key", "products", type_="unique")
    op.create_unique_constraint(
        op.f("uq_products_provider_id_upstream_key_catalog_product_id"),
        "products",
        ["provider_id", "upstream_key", "catalog_product_id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("uq_products_provider_id_upstream_key_catalog_product_id"), "products", type_="unique"
    )
    op.create_unique_constraint(
        "uq_products_provider_id_upstream_key", "products", ["provider_id", "upstream_key"]
    )
    op.drop_column("providers", "round_to")
    op.drop_column("providers", "fixed_fee")
    op.drop_column("providers", "markup_percent")
    op.drop_column("orders", "upstream_currency")
    op.drop_column("orders", "upstream_cost")
    op.drop_table("provider_health")
    op.drop_table("catalog_mappings")
