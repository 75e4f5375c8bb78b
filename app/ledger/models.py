"""Accounts and their append-only ledger. balance == sum(ledger_entries.amount), always."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.engine import Base


class EntryKind(StrEnum):
    TOPUP = "topup"
    ORDER_DEBIT = "order_debit"
    ORDER_REFUND = "order_refund"
    ADJUSTMENT = "adjustment"


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('topup', 'order_debit', 'order_refund', 'adjustment')", name="kind_known"
        ),
        CheckConstraint(
            "(kind = 'topup' AND amount > 0)"
            " OR (kind = 'order_debit' AND amount < 0 AND order_id IS NOT NULL)"
            " OR (kind = 'order_refund' AND amount > 0 AND order_id IS NOT NULL)"
            " OR (kind = 'adjustment' AND amount <> 0)",
            name="amount_sign_matches_kind",
        ),
        # Each order is debited at most once and refunded at most once.
        Index(
            "uq_ledger_entries_order_id_kind",
            "order_id",
            "kind",
            unique=True,
            postgresql_where=text("order_id IS NOT NULL"),
        ),
        Index("ix_ledger_entries_account_id_id", "account_id", "id"),
        Index("ix_ledger_entries_created_at", "created_at"),  # reports by time range
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("orders.id"))
    reference: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
