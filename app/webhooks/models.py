"""Webhook settings per account, the delivery queue, and the log of every attempt.

The queue (`webhook_outbox`) is filled by a trigger on `events` (migrations 0004, 0009), in
the transaction that wrote the event: a rolled-back transition never queues anything, and
an event committed late (a lower id committing after a higher one) is still queued. Only
accounts with a webhook URL at that moment get queue rows; events of an account without a
URL stay in `events` (ops can replay them) but are never sent on their own.
"""

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.engine import Base


class WebhookConfig(Base):
    __tablename__ = "webhook_configs"

    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)
    # The HMAC key for X-Webhook-Signature: it has to be readable to sign, so not hashed.
    secret: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # The account's stream is delivered by one dispatcher at a time: it holds the lease
    # (locked_until, lease_token); after a failure nothing is sent before next_attempt_at.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class WebhookOutbox(Base):
    """Events still to send: the account's stream (is_replay false, one row per event, sent
    in event order) and replays asked for by ops (retried on their own schedule)."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        Index("ix_webhook_outbox_account_id_is_replay_event_id", "account_id", "is_replay",
              "event_id"),
        Index("ix_webhook_outbox_replay_due", "next_attempt_at",
              postgresql_where=text("is_replay")),
        Index("ix_webhook_outbox_stream_event_id", "event_id", unique=True,
              postgresql_where=text("NOT is_replay")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    is_replay: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """One attempt to deliver one event: what the endpoint answered, or why it did not."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    is_replay: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[bool] = mapped_column(Boolean)
