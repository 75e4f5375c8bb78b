"""Record events of any subject, in the caller's transaction (the outbox fills itself)."""

from datetime import datetime
from typing import Any

from sqlalchemy import insert

from app.db.engine import Db
from app.events.models import Event
from app.ledger.subjects import Subject


def row(
    subject: Subject,
    subject_id: int,
    account_id: int,
    type: str,
    payload: dict[str, Any],
    at: datetime,
) -> dict[str, Any]:
    """One event, ready for `record`. `payload` is stored as is and sent as is."""
    return {
        "account_id": account_id,
        "subject_kind": subject.kind,
        subject.column: subject_id,
        "type": type,
        "payload": payload,
        "created_at": at,
    }


async def record(session: Db, rows: list[dict[str, Any]]) -> None:
    """Insert the events in one statement (the outbox trigger runs once per statement, and
    queues them in id order)."""
    if rows:
        await session.execute(insert(Event), rows)
