"""Orders and their SMS (their events are in app.events, idempotency keys in app.idempotency)."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.engine import Base


class OrderStatus(StrEnum):
    PENDING = "PENDING"  # debited, the upstream purchase not settled yet (internal)
    ACTIVE = "ACTIVE"
    OTP_RECEIVED = "OTP_RECEIVED"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"  # the purchase did not happen; refunded (internal)


PUBLIC_STATUSES = (
    OrderStatus.ACTIVE,
    OrderStatus.OTP_RECEIVED,
    OrderStatus.COMPLETED,
    OrderStatus.CANCELED,
    OrderStatus.EXPIRED,
)
LIVE_STATUSES = (OrderStatus.ACTIVE, OrderStatus.OTP_RECEIVED)
TERMINAL_STATUSES = (
    OrderStatus.COMPLETED,
    OrderStatus.CANCELED,
    OrderStatus.EXPIRED,
    OrderStatus.FAILED,
)


class Reconcile(StrEnum):
    """What the reconciler does with a PENDING order whose purchase outcome is unknown."""

    ADOPT = "adopt"  # nobody was told: if the upstream has the number, keep it
    RELEASE = "release"  # the client was told it failed: give the number back, refund


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('PENDING', 'ACTIVE', 'OTP_RECEIVED', 'COMPLETED', 'CANCELED', "
            "'EXPIRED', 'FAILED')",
            name="status_known",
        ),
        CheckConstraint("amount > 0 AND cost >= 0", name="money_sane"),
        CheckConstraint("sms_revision >= 0", name="sms_revision_not_negative"),
        Index("ix_orders_account_id_id", "account_id", "id"),
        # The poller's queue: only live orders are in it.
        Index(
            "ix_orders_due",
            "next_poll_at",
            postgresql_where=text("status IN ('PENDING', 'ACTIVE', 'OTP_RECEIVED')"),
        ),
        Index(
            "ix_orders_release_due",
            "release_attempt_at",
            postgresql_where=text("release_attempt_at IS NOT NULL"),
        ),
        Index("ix_orders_product_id_created_at", "product_id", "created_at"),
        # Ops look orders up by number and by the provider's id ("what happened to X").
        Index("ix_orders_phone_number", "phone_number"),
        Index("ix_orders_upstream_order_id", "upstream_order_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    product_id: Mapped[int] = mapped_column(Integer, ForeignKey("products.id"))
    catalog_product_id: Mapped[int] = mapped_column(Integer, ForeignKey("catalog_products.id"))
    provider_id: Mapped[int] = mapped_column(Integer, ForeignKey("providers.id"))
    operator_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("operators.id"))
    parent_order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("orders.id"))
    status: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)  # charged, IDR, locked at creation
    cost: Mapped[int] = mapped_column(BigInteger)  # what the provider charges us, IDR
    # The provider's own price for it, in its currency (margin reports, reconciliation).
    upstream_cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    upstream_currency: Mapped[str | None] = mapped_column(Text)
    phone_number: Mapped[str | None] = mapped_column(Text)
    upstream_order_id: Mapped[str | None] = mapped_column(Text)
    otp_code: Mapped[str | None] = mapped_column(Text)
    otp_message: Mapped[str | None] = mapped_column(Text)
    sms_revision: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    otp_received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_available_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resend_available_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reactivatable: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_reason: Mapped[str | None] = mapped_column(Text)
    reconcile: Mapped[str] = mapped_column(Text, server_default=text("'adopt'"))
    # Poller bookkeeping: when to look next, who holds it, how many errors in a row.
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    poll_errors: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    # Set while the number still has to be given back upstream (finish/expiry/release).
    release_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    release_action: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OrderSms(Base):
    __tablename__ = "order_sms"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
