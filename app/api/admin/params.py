"""Query and path parameters shared by the admin routers."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from app.api.params import PathId

Id = PathId
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]
Since = Annotated[datetime | None, Query(alias="from")]
Until = Annotated[datetime | None, Query(alias="to")]


def utc(value: datetime | None) -> datetime | None:
    """Query times without an offset are taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
