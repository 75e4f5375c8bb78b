"""Each account's webhook settings (delivery and the outbox dispatcher come later)."""

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class WebhookConfig(Base):
    __tablename__ = "webhook_configs"

    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)
    # The HMAC key for X-Webhook-Signature: it has to be readable to sign, so not hashed.
    secret: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
