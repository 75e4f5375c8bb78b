"""Pure ASGI middleware: the access log and request metrics, request ids, the body-size
limit (all before any handler runs)."""

import logging
import re
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

import structlog
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, error_response
from app.observability import metrics
from app.observability.logs import get_logger

log = get_logger(__name__)
access_log = get_logger("smsgate.access")
_access_level = logging.getLogger("smsgate.access")  # its level check is cached by logging

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Probes and scrapes arrive every few seconds: their lines are debug, not info.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def route_template(scope: Scope) -> str:
    """The matched route as a template (/v1/orders/{order_id}); "unmatched" when no route
    matched. The route's own `path_format` lacks its routers' prefixes (this FastAPI keeps
    included routes relative), so the prefix is taken from the request path, segment for
    segment: only route literals and {names} come out, label values stay few."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    own: str = getattr(route, "path_format", None) or scope["path"]
    segments = scope["path"].split("/")
    return "/".join(segments[: len(segments) - own.count("/")]) + own


class AccessMiddleware:
    """Outermost: one metrics observation and one log line per HTTP request, with the
    request id, the account (set by authentication), the route template (never the raw
    path or query string), method, status and duration — whatever answered: a handler,
    the 413 limit or the last-resort 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if nothing is sent at all

        async def send_watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_watching)
        finally:
            elapsed = time.perf_counter() - started
            template = route_template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            metrics.observe_request(template, method, status, elapsed)
            state: MutableMapping[str, Any] = scope.get("state") or {}
            level = (
                logging.WARNING
                if status >= 500
                else logging.DEBUG
                if template in _QUIET_ROUTES
                else logging.INFO
            )
            if _access_level.isEnabledFor(level):
                access_log.log(
                    level, "request", request_id=state.get("request_id"),
                    account_id=state.get("account_id"), route=template, method=method,
                    status=status, duration_ms=round(elapsed * 1000, 2),
                )  # fmt: skip


_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Echo a sane client X-Request-Id, else make one; put it on every response, with the
    headers an inner layer left in `scope["state"]["response_headers"]` (the rate limiter's
    X-RateLimit-*, set before a handler runs, so they are on its errors too).

    It is also the last resort for unexpected exceptions: they are logged with the request
    id and answered 500 INTERNAL_ERROR in the envelope, never with a trace.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _SANE_REQUEST_ID.match(candidate):
                    request_id = candidate
                break
        if request_id is None:
            request_id = uuid.uuid4().hex
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        # Every line logged while this request runs carries its id (reset afterwards).
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        raw_id = request_id.encode("latin-1")

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", raw_id))
                headers.extend(state.get("response_headers", ()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", request_id=request_id)
            if started:
                raise
            response = error_response(500, "INTERNAL_ERROR", "Internal error.")
            await response(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**bound)


class _BodyTooLarge(StarletteHTTPException):
    """An HTTPException so FastAPI's body parsing lets it through to the 413 handler."""

    def __init__(self) -> None:
        super().__init__(413)


class BodyLimitMiddleware:
    """413 in the envelope for bodies over the limit: by Content-Length, or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._reject(scope, receive, send)
                    return
                break

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        err = PayloadTooLarge(f"Request body exceeds {self.max_bytes} bytes.")
        response = error_response(
            err.status, err.code, err.message, headers={"Connection": "close"}
        )
        await response(scope, receive, send)
