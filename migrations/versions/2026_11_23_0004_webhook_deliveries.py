"""webhook deliveries: the delivery queue (filled by a trigger on order_events), the log of
attempts, and the per-account lease and backoff of the stream

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:31:25.967592
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("is_replay", sa.Boolean(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_webhook_deliveries_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["order_events.id"],
            name=op.f("fk_webhook_deliveries_event_id_order_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_account_id_id",
        "webhook_deliveries",
        ["account_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_deliveries_event_id"), "webhook_deliveries", ["event_id"], unique=False
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("is_replay", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_webhook_outbox_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["order_events.id"],
            name=op.f("fk_webhook_outbox_event_id_order_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
    )
    op.create_index(
        "ix_webhook_outbox_account_id_is_replay_event_id",
        "webhook_outbox",
        ["account_id", "is_replay", "event_id"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_outbox_replay_due",
        "webhook_outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("is_replay"),
    )
    op.create_index(
        "ix_webhook_outbox_stream_event_id",
        "webhook_outbox",
        ["event_id"],
        unique=True,
        postgresql_where=sa.text("NOT is_replay"),
    )
    op.add_column(
        "webhook_configs", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "webhook_configs", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("webhook_configs", sa.Column("lease_token", sa.Uuid(), nullable=True))
    # Queue every new event of an account that has a webhook URL, in the transaction that
    # wrote the event (a statement-level trigger: one insert per batch of events).
    op.execute(ENQUEUE_FUNCTION)
    op.execute(
        "CREATE TRIGGER order_events_webhook_enqueue AFTER INSERT ON order_events "
        "REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT "
        "EXECUTE FUNCTION webhook_enqueue()"
    )


ENQUEUE_FUNCTION = """
CREATE FUNCTION webhook_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_outbox (event_id, account_id, is_replay)
    SELECT i.id, i.account_id, false
    FROM inserted i
    JOIN webhook_configs c ON c.account_id = i.account_id AND c.url IS NOT NULL
    ORDER BY i.id;
    RETURN NULL;
END
$$
"""


def downgrade() -> None:
    op.execute("DROP TRIGGER order_events_webhook_enqueue ON order_events")
    op.execute("DROP FUNCTION webhook_enqueue()")
    op.drop_column("webhook_configs", "lease_token")
    op.drop_column("webhook_configs", "locked_until")
    op.drop_column("webhook_configs", "next_attempt_at")
    op.drop_index(
        "ix_webhook_outbox_stream_event_id",
        table_name="webhook_outbox",
        postgresql_where=sa.text("NOT is_replay"),
    )
    op.drop_index(
        "ix_webhook_outbox_replay_due",
        table_name="webhook_outbox",
        postgresql_where=sa.text("is_replay"),
    )
    op.drop_index("ix_webhook_outbox_account_id_is_replay_event_id", table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
    op.drop_index(op.f("ix_webhook_deliveries_event_id"), table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_account_id_id", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
