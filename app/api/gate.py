"""The edge checks that run before routing, so before FastAPI reads a body or a query.

`AuthenticateFirst`: on /v1, /v2 and /admin the caller is checked before the body or the
query is looked at: no token and a malformed body is 401, not 422 (403 for a non-admin on
/admin). A refused caller on a path or method no route serves still gets the router's
404 or 405 (the route table is probed only then, off the hot path). The principal is left
on the request state, where the routes' PrincipalDep picks it up: one token lookup per
request, through the authenticator's cache.

`InputPolicy`: one rule for every string a route can receive, instead of per field: no
NUL and no lone surrogate (Postgres cannot store either: they were 500s). The path, the
query and a JSON body are checked; a hit is 422 VALIDATION_ERROR naming the field. A body
without a `\\u` escape or a 0xED byte cannot hold either, so the common case costs one
byte search.
"""

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.admin.auth import require_admin
from app.api.methods import routed
from app.deps import authenticate
from app.errors import GatewayError, error_response, field_error

_BAD = re.compile("[\x00\ud800-\udfff]")
_MESSAGE = "must not contain NUL characters or unpaired surrogates"


async def _answer(exc: GatewayError, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
    await response(scope, receive, send)


def _area(path: str) -> str | None:
    for prefix, area in (("/v1", "account"), ("/v2", "account"), ("/admin", "admin")):
        if path == prefix or path.startswith(prefix + "/"):
            return area
    return None


class AuthenticateFirst:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        area = _area(scope["path"]) if scope["type"] == "http" else None
        if area is not None:
            request = Request(scope)  # no receive: nothing here may read the body
            try:
                if area == "admin":
                    await require_admin(request)
                else:
                    await authenticate(request)
            except GatewayError as exc:
                if routed(scope, scope["method"]):
                    await _answer(exc, scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _bad_field(value: Any, path: str) -> str | None:
    """The dotted path of the first string (key or value) the policy refuses."""
    if isinstance(value, str):
        return path or "body" if _BAD.search(value) else None
    items: Iterator[tuple[Any, Any]]
    if isinstance(value, dict):
        items = iter(value.items())
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        name = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _BAD.search(key):
            return name
        found = _bad_field(item, name)
        if found is not None:
            return found
    return None


def _target_error(scope: Scope) -> GatewayError | None:
    if _BAD.search(scope["path"]):
        return field_error("path", _MESSAGE)
    raw: bytes = scope.get("query_string", b"")
    if b"%00" in raw or b"\x00" in raw:
        for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if _BAD.search(key) or _BAD.search(value):
                return field_error(key if not _BAD.search(key) else "query", _MESSAGE)
    return None


def _body_error(body: bytes) -> GatewayError | None:
    if b"\\u" not in body and b"\xed" not in body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own parsing answers it
    found = _bad_field(parsed, "")
    return field_error(found, _MESSAGE) if found is not None else None


class InputPolicy:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = _target_error(scope)
        if error is not None:
            await _answer(error, scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # The whole body, read through the (outer) size limit, checked, then replayed.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        error = _body_error(body)
        if error is not None:
            await _answer(error, scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
