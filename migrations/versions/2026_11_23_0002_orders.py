"""orders, sms, outbox, idempotency

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:32:20.942874
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_idempotency_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        "ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("catalog_product_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("parent_order_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("phone_number", sa.Text(), nullable=True),
        sa.Column("upstream_order_id", sa.Text(), nullable=True),
        sa.Column("otp_code", sa.Text(), nullable=True),
        sa.Column("otp_message", sa.Text(), nullable=True),
        sa.Column("sms_revision", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("otp_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_available_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resend_available_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reactivatable", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_reason", sa.Text(), nullable=True),
        sa.Column("reconcile", sa.Text(), server_default=sa.text("'adopt'"), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poll_errors", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("release_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_action", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'ACTIVE', 'OTP_RECEIVED', 'COMPLETED', 'CANCELED', "
            "'EXPIRED', 'FAILED')",
            name=op.f("ck_orders_status_known"),
        ),
        sa.CheckConstraint("amount > 0 AND cost >= 0", name=op.f("ck_orders_money_sane")),
        sa.CheckConstraint("sms_revision >= 0", name=op.f("ck_orders_sms_revision_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_orders_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["catalog_product_id"],
            ["catalog_products.id"],
            name=op.f("fk_orders_catalog_product_id_catalog_products"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_orders_operator_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["parent_order_id"], ["orders.id"], name=op.f("fk_orders_parent_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_orders_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_orders_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index("ix_orders_account_id_id", "orders", ["account_id", "id"], unique=False)
    op.create_index(
        "ix_orders_due",
        "orders",
        ["next_poll_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('PENDING', 'ACTIVE', 'OTP_RECEIVED')"),
    )
    op.create_index(
        "ix_orders_product_id_created_at", "orders", ["product_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_orders_release_due",
        "orders",
        ["release_attempt_at"],
        unique=False,
        postgresql_where=sa.text("release_attempt_at IS NOT NULL"),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_order_events_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    op.create_index(
        "ix_order_events_account_id_id", "order_events", ["account_id", "id"], unique=False
    )
    op.create_index(op.f("ix_order_events_order_id"), "order_events", ["order_id"], unique=False)
    op.create_table(
        "order_sms",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_sms_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_sms")),
    )
    op.create_index(op.f("ix_order_sms_order_id"), "order_sms", ["order_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_ledger_entries_order_id_orders"), "ledger_entries", "orders", ["order_id"], ["id"]
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_ledger_entries_order_id_orders"), "ledger_entries", type_="foreignkey"
    )
    op.drop_index(op.f("ix_order_sms_order_id"), table_name="order_sms")
    op.drop_table("order_sms")
    op.drop_index(op.f("ix_order_events_order_id"), table_name="order_events")
    op.drop_index("ix_order_events_account_id_id", table_name="order_events")
    op.drop_table("order_events")
    op.drop_index(
        "ix_orders_release_due",
        table_name="orders",
        postgresql_where=sa.text("release_attempt_at IS NOT NULL"),
    )
    op.drop_index("ix_orders_product_id_created_at", table_name="orders")
    op.drop_index(
        "ix_orders_due",
        table_name="orders",
        postgresql_where=sa.text("status IN ('PENDING', 'ACTIVE', 'OTP_RECEIVED')"),
    )
    op.drop_index("ix_orders_account_id_id", table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
