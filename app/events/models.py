"""Events of any subject: what webhooks send, and the timeline ops read.

A trigger (`events_webhook_enqueue`, migrations 0004/0009) queues each new event in
`webhook_outbox` for accounts with a webhook URL, in the transaction that wrote the event.
An event points at its subject like a ledger row does: `subject_kind` names the kind and
that kind's FK column (e.g. `order_id`) is the only one set (CHECKs from app.ledger.subjects),
so an event can never name a subject that does not exist.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.engine import Base
from app.ledger import subjects


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(subjects.event_kind_check(), name="subject_kind_known"),
        *(
            CheckConstraint(
                subjects.event_subject_check(s), name=f"{s.column}_matches_subject_kind"
            )
            for s in subjects.SUBJECTS
        ),
        Index("ix_events_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    subject_kind: Mapped[str] = mapped_column(Text)
    # One column per subject kind, as in ledger_entries.
    order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("orders.id"), index=True)
    type: Mapped[str] = mapped_column(Text)  # "order.completed"
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the webhook body, as sent
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
