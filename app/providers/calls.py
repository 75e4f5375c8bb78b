"""Every upstream call timed, counted by outcome and logged, with the order it was for.

Lives with the providers (not in app.observability) because the outcome is the providers'
error taxonomy; the metric objects themselves are app.observability.metrics'.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from app.observability.logs import get_logger
from app.observability.metrics import PROVIDER_CALLS, PROVIDER_DURATION
from app.providers.errors import UpstreamError

log = get_logger(__name__)
_log_level = logging.getLogger(__name__)  # a cheap level check before building a line


# Operations polled all the time log at debug; the rest (money moves) at info.
_QUIET_OPERATIONS = frozenset({"status"})


def outcome_of(exc: BaseException) -> str:
    """The taxonomy name of an upstream error (Unavailable → unavailable), or `error`."""
    if isinstance(exc, UpstreamError):
        name = type(exc).__name__
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return "error" if isinstance(exc, Exception) else "cancelled"


@contextmanager
def provider_call(provider: str, operation: str, order_id: int | None = None) -> Iterator[None]:
    """Time one upstream call, count its outcome, and log it with the order id:

    with provider_call(provider.code, "buy", order_id):
        purchase = await provider.buy(...)
    """
    started = time.perf_counter()
    outcome = "ok"
    try:
        yield
    except BaseException as exc:
        outcome = outcome_of(exc)
        raise
    finally:
        elapsed = time.perf_counter() - started
        PROVIDER_CALLS.labels(provider, operation, outcome).inc()
        PROVIDER_DURATION.labels(provider, operation).observe(elapsed)
        level = (
            logging.WARNING
            if outcome != "ok"
            else logging.DEBUG
            if operation in _QUIET_OPERATIONS
            else logging.INFO
        )
        if _log_level.isEnabledFor(level):
            log.log(
                level, "provider call", provider=provider, operation=operation,
                outcome=outcome, order_id=order_id, duration_ms=round(elapsed * 1000, 1),
            )  # fmt: skip
