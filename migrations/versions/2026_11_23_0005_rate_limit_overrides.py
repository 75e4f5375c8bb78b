"""rate limit overrides

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_overrides",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint_group", sa.Text(), nullable=False),
        sa.Column("max_requests", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "endpoint_group IN ('catalog', 'balance', 'order_reads', 'order_create', "
            "'order_cancel', 'order_actions', 'webhook_config')",
            name=op.f("ck_rate_limit_overrides_endpoint_group_known"),
        ),
        sa.CheckConstraint(
            "max_requests >= 0", name=op.f("ck_rate_limit_overrides_max_requests_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_rate_limit_overrides_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "endpoint_group", name=op.f("pk_rate_limit_overrides")
        ),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_overrides")
