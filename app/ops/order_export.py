"""CSV rendering of an order search, chunk by chunk (never the whole result in memory)."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.ops import order_search as search


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return "" if value is None else value


async def csv_chunks(
    engine: AsyncEngine, f: search.OrderFilter, *, batch_size: int = 2_000
) -> AsyncIterator[bytes]:
    """The header, then one chunk of CSV per batch of orders."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(search.FIELDS)
    yield buffer.getvalue().encode()
    async for rows in search.batches(engine, f, batch_size=batch_size):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([_cell(v) for v in row] for row in rows)
        yield buffer.getvalue().encode()
