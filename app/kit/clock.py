"""The one clock: tests can move it; everything that asks "now" asks here.

`timestamp()` is `utcnow()` in epoch seconds and goes through this module's `utcnow`, so
a test that replaces `utcnow` moves both. `monotonic()` is for intervals that must not
jump with the wall clock (retry-after-an-error timers); tests may replace it too.
"""

import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp() -> float:
    return utcnow().timestamp()


def monotonic() -> float:
    return time.monotonic()


def rfc3339(value: datetime | None) -> str | None:
    """UTC, second precision, 'Z' suffix: 2026-02-25T10:00:00Z."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
