"""Every Prometheus metric of the gateway, and the small helpers other code records with.

Process metrics (requests, provider calls, breaker states, webhook outcomes, the poller's
heartbeat) live here. Numbers that are facts about the database (orders by status, poller
lag, outbox backlog, ledger totals) are not kept in processes at all: `app.observability.metrics_db`
reads them once per scrape, so several API processes never multiply them.

Several processes (`smsgate serve --workers N`): the CLI points PROMETHEUS_MULTIPROC_DIR
(prometheus_client's own variable, read by the library at import) at a directory under
the data dir, empty at start; each process writes its values there and a scrape adds
them up. Without it (tests, `uvicorn` by hand) the values live in this process only.
"""

import logging
import os
import time
from collections.abc import Iterable
from enum import IntEnum
from pathlib import Path
from typing import Any

import psutil
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from app.observability.logs import get_logger

log = get_logger(__name__)
_log_level = logging.getLogger(__name__)  # a cheap level check before building a line

# prometheus_client decides between in-process and file-backed values at import; so do we.
MULTIPROC_DIR: str | None = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# --- HTTP ------------------------------------------------------------------------------------
# `route` is the route template (/v1/orders/{order_id}), "unmatched" for unknown paths:
# label values stay few whatever clients send.
HTTP_REQUESTS = Counter(
    "smsgate_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ("route", "method", "status"),
)
HTTP_DURATION = Histogram(
    "smsgate_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response.",
    ("route", "method"),
    buckets=_LATENCY_BUCKETS,
)

# --- Upstream providers ----------------------------------------------------------------------
PROVIDER_CALLS = Counter(
    "smsgate_provider_calls_total",
    "Calls to upstream providers; outcome is ok or the error taxonomy name.",
    ("provider", "operation", "outcome"),
)
PROVIDER_DURATION = Histogram(
    "smsgate_provider_call_duration_seconds",
    "Upstream call latency, whatever the outcome.",
    ("provider", "operation"),
    buckets=_LATENCY_BUCKETS,
)
BREAKER_STATE = Gauge(
    "smsgate_provider_breaker_state",
    "Circuit breaker per provider: 0 closed, 1 half-open, 2 open (worst live process).",
    ("provider",),
    multiprocess_mode="livemax",
)

# --- Webhooks --------------------------------------------------------------------------------
WEBHOOK_DELIVERIES = Counter(
    "smsgate_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, failed, retrying, dropped, ...).",
    ("outcome",),
)

# --- The poller ------------------------------------------------------------------------------
POLLER_ROUNDS = Counter("smsgate_poller_rounds_total", "Poller rounds run.")
POLLER_ORDERS = Counter("smsgate_poller_orders_total", "Orders handled by poller rounds.")
POLLER_HEARTBEAT = Gauge(
    "smsgate_poller_heartbeat_timestamp_seconds",
    "Unix time of the latest sign of life of a poller in a live process.",
    multiprocess_mode="livemax",
)


_request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """One answered HTTP request (called by the access middleware)."""
    key = (route, method, status)
    children = _request_children.get(key)
    if children is None:  # label lookups once per (route, method, status), not per request
        children = (
            HTTP_REQUESTS.labels(route, method, str(status)),
            HTTP_DURATION.labels(route, method),
        )
        _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


def set_breaker_state(provider: str, state: BreakerState | str | int) -> None:
    """Called by the circuit breaker on every change: a BreakerState, its name, or 0/1/2."""
    if isinstance(state, str):
        state = BreakerState[state.strip().upper().replace("-", "_")]
    BREAKER_STATE.labels(provider).set(int(BreakerState(state)))


def webhook_delivery(outcome: str) -> None:
    """Called by the webhook dispatcher once per delivery attempt (a short, fixed word)."""
    WEBHOOK_DELIVERIES.labels(outcome).inc()


def poller_beat(handled: int | None = None) -> None:
    """A poller is alive; with `handled`, it finished a round of that many orders."""
    POLLER_HEARTBEAT.set(time.time())
    if handled is not None:
        POLLER_ROUNDS.inc()
        POLLER_ORDERS.inc(handled)


# --- Exposition ------------------------------------------------------------------------------

_SWEEP_EVERY_SECONDS = 10.0
_last_sweep = 0.0


def sweep_dead_processes() -> None:
    """Forget the live-only gauges of worker processes that died without saying so (a
    SIGKILL, a crash): uvicorn restarts them under a new pid. Counters of dead processes
    are kept: what they counted happened."""
    global _last_sweep
    if MULTIPROC_DIR is None or time.monotonic() - _last_sweep < _SWEEP_EVERY_SECONDS:
        return
    _last_sweep = time.monotonic()
    pids: set[int] = set()
    for path in Path(MULTIPROC_DIR).glob("gauge_live*_*.db"):
        suffix = path.stem.rsplit("_", 1)[-1]
        if suffix.isdigit():
            pids.add(int(suffix))
    for pid in pids:
        if not psutil.pid_exists(pid):
            prom_multiprocess.mark_process_dead(pid, MULTIPROC_DIR)  # type: ignore[no-untyped-call]


def process_exiting() -> None:
    """Called at shutdown: this process's live gauges stop counting at once."""
    if MULTIPROC_DIR is not None:
        prom_multiprocess.mark_process_dead(os.getpid(), MULTIPROC_DIR)  # type: ignore[no-untyped-call]


def render(*extra: Collector) -> bytes:
    """The text exposition: every process's values (added up in multiprocess mode) plus
    the `extra` collectors (the database snapshot), which are counted once."""
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROC_DIR is not None:
        sweep_dead_processes()
        prom_multiprocess.MultiProcessCollector(registry, MULTIPROC_DIR)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Proxy(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


class _Proxy(Collector):
    """The process registry, seen through a per-scrape registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()
