"""ledger subjects and events: the ledger's guards per kind of product, and `order_events`
becomes `events` (of any subject)

Everything is renamed or re-constrained in place: ids, rows and sequences are kept, so
`webhook_outbox.event_id` and `webhook_deliveries.event_id` still point at their events and
the outbox trigger (now on `events`) keeps queueing in the event's transaction.

The values are spelled out here rather than read from app.ledger.subjects: this migration
must mean the same thing after the registry grows (new kinds use subjects.add_subject_ddl).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The sign of each entry kind, and that only an order's entries name an order (0001 let a
# top-up carry an order_id; no code ever wrote one, and the CHECK below says so).
SIGNS = (
    "(kind = 'topup' AND amount > 0) OR (kind = 'adjustment' AND amount <> 0)"
    " OR (kind = 'order_debit' AND amount < 0) OR (kind = 'order_refund' AND amount > 0)"
)
ORDER_ENTRIES = "(kind IN ('order_debit', 'order_refund')) = (order_id IS NOT NULL)"
OLD_SIGNS = (
    "(kind = 'topup' AND amount > 0)"
    " OR (kind = 'order_debit' AND amount < 0 AND order_id IS NOT NULL)"
    " OR (kind = 'order_refund' AND amount > 0 AND order_id IS NOT NULL)"
    " OR (kind = 'adjustment' AND amount <> 0)"
)
OLD_KINDS = "kind IN ('topup', 'order_debit', 'order_refund', 'adjustment')"

# (old, new) names of what moves with the table.
RENAMED_CONSTRAINTS = (
    ("events", "pk_order_events", "pk_events"),
    ("events", "fk_order_events_account_id_accounts", "fk_events_account_id_accounts"),
    ("events", "fk_order_events_order_id_orders", "fk_events_order_id_orders"),
    ("webhook_outbox", "fk_webhook_outbox_event_id_order_events",
     "fk_webhook_outbox_event_id_events"),
    ("webhook_deliveries", "fk_webhook_deliveries_event_id_order_events",
     "fk_webhook_deliveries_event_id_events"),
)  # fmt: skip
RENAMED_INDEXES = (
    ("ix_order_events_account_id_id", "ix_events_account_id_id"),
    ("ix_order_events_order_id", "ix_events_order_id"),
)


def upgrade() -> None:
    op.execute("ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_entries_kind_known")
    op.execute(
        "ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_entries_amount_sign_matches_kind"
    )
    op.execute(
        "ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_amount_sign_matches_kind"
        f" CHECK ({SIGNS})"
    )
    op.execute(
        "ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_order_id_matches_kind"
        f" CHECK ({ORDER_ENTRIES})"
    )

    op.execute("ALTER TABLE order_events RENAME TO events")
    op.execute("ALTER SEQUENCE order_events_id_seq RENAME TO events_id_seq")
    op.execute("ALTER TABLE events RENAME COLUMN event TO type")
    # A constant default fills the existing rows without rewriting the table; new rows
    # must name their kind, so the default goes again.
    op.execute("ALTER TABLE events ADD COLUMN subject_kind TEXT NOT NULL DEFAULT 'order'")
    op.execute("ALTER TABLE events ALTER COLUMN subject_kind DROP DEFAULT")
    op.execute("ALTER TABLE events ALTER COLUMN order_id DROP NOT NULL")
    for table, old, new in RENAMED_CONSTRAINTS:
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")
    for old, new in RENAMED_INDEXES:
        op.execute(f"ALTER INDEX {old} RENAME TO {new}")
    op.execute(
        "ALTER TABLE events ADD CONSTRAINT ck_events_subject_kind_known"
        " CHECK (subject_kind IN ('order'))"
    )
    op.execute(
        "ALTER TABLE events ADD CONSTRAINT ck_events_order_id_matches_subject_kind"
        " CHECK ((subject_kind = 'order') = (order_id IS NOT NULL))"
    )
    # The trigger moved with its table and runs the same webhook_enqueue(); only its name
    # still said "order".
    op.execute(
        "ALTER TRIGGER order_events_webhook_enqueue ON events RENAME TO events_webhook_enqueue"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TRIGGER events_webhook_enqueue ON events RENAME TO order_events_webhook_enqueue"
    )
    op.execute("ALTER TABLE events DROP CONSTRAINT ck_events_order_id_matches_subject_kind")
    op.execute("ALTER TABLE events DROP CONSTRAINT ck_events_subject_kind_known")
    for old, new in RENAMED_INDEXES:
        op.execute(f"ALTER INDEX {new} RENAME TO {old}")
    for table, old, new in RENAMED_CONSTRAINTS:
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {new} TO {old}")
    op.execute("ALTER TABLE events ALTER COLUMN order_id SET NOT NULL")  # only orders until now
    op.execute("ALTER TABLE events DROP COLUMN subject_kind")
    op.execute("ALTER TABLE events RENAME COLUMN type TO event")
    op.execute("ALTER SEQUENCE events_id_seq RENAME TO order_events_id_seq")
    op.execute("ALTER TABLE events RENAME TO order_events")

    op.execute("ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_entries_order_id_matches_kind")
    op.execute(
        "ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_entries_amount_sign_matches_kind"
    )
    op.execute(
        "ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_amount_sign_matches_kind"
        f" CHECK ({OLD_SIGNS})"
    )
    op.execute(
        "ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_kind_known"
        f" CHECK ({OLD_KINDS})"
    )
