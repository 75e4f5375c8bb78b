"""The append-only ledger. balance == sum(ledger_entries.amount), always.

Its guards come from the subject registry (app.ledger.subjects): one FK column per kind of
product, set exactly on that kind's entries, and each subject debited and refunded once.
"""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.engine import Base
from app.ledger import subjects
from app.ledger.subjects import EntryKind

__all__ = ["EntryKind", "LedgerEntry"]


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(subjects.entry_sign_check(), name="amount_sign_matches_kind"),
        *(
            CheckConstraint(subjects.entry_subject_check(s), name=f"{s.column}_matches_kind")
            for s in subjects.SUBJECTS
        ),
        # Each subject is debited at most once and refunded at most once.
        *(
            Index(
                f"uq_ledger_entries_{s.column}_kind",
                s.column,
                "kind",
                unique=True,
                postgresql_where=text(f"{s.column} IS NOT NULL"),
            )
            for s in subjects.SUBJECTS
        ),
        Index("ix_ledger_entries_account_id_id", "account_id", "id"),
        Index("ix_ledger_entries_created_at", "created_at"),  # reports by time range
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    # One column per subject kind (subjects.SUBJECTS), each a real foreign key.
    order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("orders.id"))
    reference: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
