"""Orders as the API shows them (/v1 shapes), and as webhook events carry them."""

from datetime import datetime
from typing import Any

from app.kit.clock import rfc3339
from app.orders.capabilities import OrderClockView, capabilities
from app.orders.models import OrderStatus
from app.orders.names import CatalogNames


def _view(order: Any) -> OrderClockView:
    return OrderClockView(
        status=order.status,
        sms_revision=order.sms_revision,
        expires_at=order.expires_at,
        cancel_available_at=order.cancel_available_at,
        resend_available_at=order.resend_available_at,
        reactivatable=order.reactivatable,
    )


def capabilities_of(order: Any, now: datetime) -> dict[str, Any]:
    return capabilities(_view(order), now)


def full(order: Any, names: CatalogNames, now: datetime) -> dict[str, Any]:
    """GET /orders and /orders/{id}."""
    return {
        "id": order.id,
        "status": order.status,
        "created_at": rfc3339(order.created_at),
        "product_id": order.product_id,
        "catalog_product_id": order.catalog_product_id,
        "operator_id": order.operator_id,
        "operator_name": names.operator(order.operator_id),
        "phone_number": order.phone_number,
        "amount": order.amount,
        "otp_code": order.otp_code,
        "otp_message": order.otp_message,
        "sms_revision": order.sms_revision,
        "otp_received_at": rfc3339(order.otp_received_at),
        "expires_at": rfc3339(order.expires_at),
        "canceled_at": rfc3339(order.canceled_at),
        "failed_reason": order.failed_reason,
        **capabilities(_view(order), now),
    }


def active(order: Any, names: CatalogNames, now: datetime) -> dict[str, Any]:
    """GET /orders/active: compact and money-free."""
    return {
        "id": order.id,
        "status": order.status,
        "otp_code": order.otp_code,
        "otp_message": order.otp_message,
        "sms_revision": order.sms_revision,
        "otp_received_at": rfc3339(order.otp_received_at),
        "expires_at": rfc3339(order.expires_at),
        "failed_reason": order.failed_reason,
        "operator_id": order.operator_id,
        "operator_name": names.operator(order.operator_id),
        **capabilities(_view(order), now),
    }


def created(order: Any, names: CatalogNames, now: datetime) -> dict[str, Any]:
    """One item of a create/reactivate result."""
    return {
        "id": order.id,
        "status": order.status,
        "phone_number": order.phone_number,
        "otp_code": order.otp_code,
        "otp_received_at": rfc3339(order.otp_received_at),
        "expires_at": rfc3339(order.expires_at),
        "failed_reason": order.failed_reason,
        "product_id": order.product_id,
        "catalog_product_id": order.catalog_product_id,
        "operator_id": order.operator_id,
        "operator_name": names.operator(order.operator_id),
        "amount": order.amount,
        **capabilities(_view(order), now),
    }


def event_data(order: Any, names: CatalogNames, now: datetime) -> dict[str, Any]:
    """`data` of a webhook event: every key always present."""
    umbrella = names.umbrella(order.catalog_product_id)
    terminal = order.status in (OrderStatus.COMPLETED, OrderStatus.CANCELED, OrderStatus.EXPIRED)
    return {
        "order_id": order.id,
        "phone_number": order.phone_number,
        "otp_code": order.otp_code,
        "otp_message": order.otp_message,
        "sms_revision": None if terminal else order.sms_revision,
        "product_id": order.product_id,
        "catalog_product_id": order.catalog_product_id,
        "country": umbrella.country,
        "platform": umbrella.platform,
        "operator_id": order.operator_id,
        "operator_name": names.operator(order.operator_id),
        **capabilities(_view(order), now),
    }
