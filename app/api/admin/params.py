"""Query and path parameters shared by the admin routers."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query

Id = Annotated[int, Path(ge=1, le=2**62)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]
Since = Annotated[datetime | None, Query(alias="from")]
Until = Annotated[datetime | None, Query(alias="to")]


def utc(value: datetime | None) -> datetime | None:
    """Query times without an offset are taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
