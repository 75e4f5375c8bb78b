"""Per-account rate-limit overrides: a limit per endpoint group, replacing the default."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.engine import Base

GROUP_NAMES = (
    "catalog",
    "balance",
    "order_reads",
    "order_create",
    "order_cancel",
    "order_actions",
    "webhook_config",
)


class RateLimitOverride(Base):
    __tablename__ = "rate_limit_overrides"
    __table_args__ = (
        CheckConstraint(
            "endpoint_group IN (" + ", ".join(f"'{g}'" for g in GROUP_NAMES) + ")",
            name="endpoint_group_known",
        ),
        CheckConstraint("max_requests >= 0", name="max_requests_not_negative"),
    )

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_group: Mapped[str] = mapped_column(Text, primary_key=True)
    # Requests per window (SMSGATE_RATE_LIMIT_WINDOW_SECONDS); 0 refuses every request.
    max_requests: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
