"""What happened to one order, for operators: the order, its transitions, SMS and money.

Sources: the order row (creation, and the times it records), `events` (one per public
transition, with the payload sent to webhooks), `order_sms`, and the
ledger rows of the order. Not recorded anywhere yet, so not shown: individual provider
calls (there is no provider-call table; the order keeps only `poll_errors` and
`failed_reason`). Webhook delivery attempts of the order's events, replays included.
"""

from typing import Any

from sqlalchemy import select

from app.db.engine import Db
from app.errors import NotFound
from app.events.models import Event
from app.kit.clock import rfc3339
from app.ledger import history as ledger_history
from app.ops import order_search as search
from app.orders.models import Order, OrderSms
from app.webhooks.models import WebhookDelivery


async def order_history(session: Db, order_id: int) -> dict[str, Any]:
    row = (await session.execute(search.statement(search.OrderFilter()).where(
        Order.id == order_id))).first()  # fmt: skip
    if row is None:
        raise NotFound(f"No order {order_id}.")
    order = dict(row._mapping)
    internals = (
        await session.execute(
            select(
                Order.otp_message,
                Order.reactivatable,
                Order.reconcile,
                Order.poll_errors,
                Order.next_poll_at,
                Order.release_action,
                Order.release_attempt_at,
                Order.updated_at,
            ).where(Order.id == order_id)
        )
    ).one()
    order.update(internals._mapping)
    events = [
        dict(r._mapping)
        for r in await session.execute(
            select(Event.id, Event.type.label("event"), Event.created_at, Event.payload)
            .where(Event.order_id == order_id)
            .order_by(Event.id)
        )
    ]
    sms = [
        dict(r._mapping)
        for r in await session.execute(
            select(OrderSms.revision, OrderSms.text, OrderSms.code, OrderSms.received_at)
            .where(OrderSms.order_id == order_id)
            .order_by(OrderSms.revision, OrderSms.id)
        )
    ]
    money = await ledger_history.order_entries(session, order_id)
    children = list(
        (
            await session.scalars(
                select(Order.id).where(Order.parent_order_id == order_id).order_by(Order.id)
            )
        ).all()
    )
    deliveries = [
        {
            "event_id": d.event_id,
            "event": event_type,
            "attempted_at": rfc3339(d.attempted_at),
            "succeeded": d.succeeded,
            "status_code": d.status_code,
            "error": d.error,
            "duration_ms": d.duration_ms,
            "is_replay": d.is_replay,
        }
        for d, event_type in await session.execute(
            select(WebhookDelivery, Event.type)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(Event.order_id == order_id)
            .order_by(WebhookDelivery.id)
        )
    ]
    return {
        "order": order,
        "transitions": _transitions(order, events),
        "events": events,
        "sms": sms,
        "ledger": money,
        "reactivations": children,
        "provider_calls": None,  # not recorded (see the module docstring)
        "webhook_deliveries": deliveries,
    }


def _transitions(order: dict[str, Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A timeline: created, then every outbox event; a terminal status the outbox does not
    know (FAILED is internal) is added from the order row."""
    timeline = [{"at": order["created_at"], "status": "PENDING", "source": "order"}]
    by_event = {
        "order.otp_received": "OTP_RECEIVED",
        "order.completed": "COMPLETED",
        "order.expired": "EXPIRED",
        "order.canceled": "CANCELED",
    }
    for event in events:
        status = by_event.get(event["event"], event["event"])
        timeline.append({"at": event["created_at"], "status": status, "source": "event"})
    if order["status"] == "FAILED":
        timeline.append({"at": order["finished_at"], "status": "FAILED", "source": "order"})
    return timeline
