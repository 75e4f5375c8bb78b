"""ops lookup indexes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 16:16:38.289637
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ledger_entries_created_at", "ledger_entries", ["created_at"], unique=False)
    op.create_index("ix_orders_phone_number", "orders", ["phone_number"], unique=False)
    op.create_index("ix_orders_upstream_order_id", "orders", ["upstream_order_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_upstream_order_id", table_name="orders")
    op.drop_index("ix_orders_phone_number", table_name="orders")
    op.drop_index("ix_ledger_entries_created_at", table_name="ledger_entries")
