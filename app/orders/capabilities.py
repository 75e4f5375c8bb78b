"""What a client may do with an order now: computed here only, from the order and the clock."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.kit.clock import rfc3339
from app.orders.models import OrderStatus


@dataclass(frozen=True, slots=True)
class OrderClockView:
    status: str
    sms_revision: int
    expires_at: datetime | None
    cancel_available_at: datetime | None
    resend_available_at: datetime | None
    reactivatable: bool


def capabilities(order: OrderClockView, now: datetime) -> dict[str, Any]:
    has_sms = order.sms_revision > 0
    live = order.status in (OrderStatus.ACTIVE, OrderStatus.OTP_RECEIVED)
    not_expired = order.expires_at is None or now < order.expires_at

    cancel_at = order.cancel_available_at
    waiting_for_window = (
        order.status == OrderStatus.ACTIVE
        and not has_sms
        and cancel_at is not None
        and now < cancel_at
    )
    can_cancel = order.status == OrderStatus.ACTIVE and not has_sms and not waiting_for_window

    resend_at = order.resend_available_at
    cooling_down = resend_at is not None and now < resend_at
    can_resend = has_sms and live and not_expired and not cooling_down

    cancel_available_at = rfc3339(cancel_at) if waiting_for_window else None
    return {
        "can_finish": has_sms and live,
        "can_resend": can_resend,
        "can_cancel": can_cancel,
        "can_replace": can_cancel,
        "can_reactivate": order.status == OrderStatus.COMPLETED and order.reactivatable,
        "resend_available_at": rfc3339(resend_at) if cooling_down and live else None,
        "cancel_available_at": cancel_available_at,
        "replace_available_at": cancel_available_at,
    }
