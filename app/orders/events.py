"""Events of order transitions, written in the transaction of the transition (the webhook
outbox is filled from them by the events table's trigger). The payload is the webhook body."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from app.db.engine import Db
from app.events import service as events_service
from app.kit.clock import rfc3339
from app.ledger import subjects
from app.observability.logs import get_logger
from app.orders import presenter
from app.orders.names import CatalogNames

log = get_logger(__name__)


class EventType(StrEnum):
    OTP_RECEIVED = "order.otp_received"
    COMPLETED = "order.completed"
    EXPIRED = "order.expired"
    CANCELED = "order.canceled"


def event_row(event: EventType, order: Any, names: CatalogNames, now: datetime) -> dict[str, Any]:
    payload = {
        "event": event.value,
        "timestamp": rfc3339(now),
        "data": presenter.event_data(order, names, now),
    }
    return events_service.row(subjects.ORDER, order.id, order.account_id, event.value, payload, now)


async def record(
    session: Db,
    names: CatalogNames,
    now: datetime,
    events: list[tuple[EventType, Any]],
) -> None:
    if not events:
        return
    await names.load(
        session,
        {order.catalog_product_id for _, order in events},
        {order.operator_id for _, order in events},
    )
    await events_service.record(
        session, [event_row(event, order, names, now) for event, order in events]
    )
    # Every transition clients hear about passes here: logged with the order as it is
    # written (its transaction commits right after; a rollback leaves the line alone).
    for event, order in events:
        log.info("order transition", order_id=order.id, account_id=order.account_id,
                 status=str(order.status), outbox_event=event.value)  # fmt: skip
