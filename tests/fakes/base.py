"""What every fake upstream shares: the ASGI entry point, the call log, injected faults, and
the two ways to reach it (real HTTP on loopback, or an in-process httpx transport).

Faults (`fail_next(kind)`), consumed by the next matching request:
- "html": HTTP 200 with an HTML error page     - "empty": HTTP 200, empty body
- "garbage": HTTP 200 with bytes of nonsense   - "500": HTTP 500 with an HTML page
- "429": HTTP 429 with `Retry-After: <retry_after>`
- "reset": the connection is dropped before the request is handled (nothing happens)
- "lost": the request IS handled (a number is bought), then the connection is dropped
- "slow": handled, answered after `delay` seconds (over loopback the client times out;
  in-process, where httpx enforces no timeout, the client gets httpx.ReadTimeout instead)
- "connect": in-process only, httpx.ConnectError before anything is sent (over loopback,
  stop the server or use a closed port instead)
"""

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn

FAULTS = ("html", "empty", "garbage", "500", "429", "reset", "lost", "slow", "connect")
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"
)
GARBAGE = b"\x00\x9f\xff%PDF-1.4 \xde\xad\xbe\xef ACCESS"


class Num(str):
    """A number written into JSON exactly as given: PHP pages print money as `120.00`,
    which no float round-trips to."""


def compact_json(payload: Any) -> bytes:
    """JSON without spaces (`{"a":"1","b":[2]}`), `Num` values written verbatim."""

    def dump(value: Any) -> str:
        if isinstance(value, Num):
            return str(value)
        if isinstance(value, dict):
            return "{" + ",".join(f"{dump(str(k))}:{dump(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list | tuple):
            return "[" + ",".join(dump(v) for v in value) + "]"
        return json.dumps(value, ensure_ascii=False)

    return dump(payload).encode()


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake received. `params` never holds the credential."""

    action: str
    params: dict[str, Any]
    authorized: bool
    path: str = ""


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/html; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, text: str, status: int = 200) -> "Reply":
        return cls(status, text.encode())

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> "Reply":
        return cls(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")


@dataclass(slots=True)
class _Fault:
    kind: str
    action: str | None
    retry_after: int


class _Abort(Exception):
    def __init__(self, kind: str) -> None:
        self.kind = kind


class FakeUpstream:
    """Subclasses implement `parse(method, path, query, body) -> (action, params, authorized)`
    and `handle(action, params, headers) -> Reply`; everything else is here."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock or time.time
        self.calls: list[Call] = []
        self.delay = 2.0
        self._faults: list[_Fault] = []
        self._abort_hook: Callable[[dict[str, Any]], None] | None = None

    # --- switches ---------------------------------------------------------------------

    def fail_next(
        self, kind: str, *, action: str | None = None, times: int = 1, retry_after: int = 30
    ) -> None:
        """The next `times` requests (of `action`, when given) fail as `kind` (see FAULTS)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        self._faults.extend(_Fault(kind, action, retry_after) for _ in range(times))

    def actions(self) -> list[str]:
        return [c.action for c in self.calls]

    def _take_fault(self, action: str) -> _Fault | None:
        for i, fault in enumerate(self._faults):
            if fault.action in (None, action):
                return self._faults.pop(i)
        return None

    # --- protocol hooks ---------------------------------------------------------------

    def parse(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> Call:
        raise NotImplementedError

    def handle(self, call: Call, headers: dict[str, str]) -> Reply:
        raise NotImplementedError

    # --- ASGI -------------------------------------------------------------------------

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = dict(parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True))
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        call = self.parse(scope["method"], scope["path"], query, body, headers)
        fault = self._take_fault(call.action)
        kind = fault.kind if fault else None
        if kind in ("reset", "connect"):
            self.calls.append(call)
            return await self._drop(scope, kind)
        if kind == "slow" and self._abort_hook is not None:
            await asyncio.sleep(self.delay)
        self.calls.append(call)
        reply = self._fault_reply(fault) if fault else None
        if reply is None:
            reply = self.handle(call, headers)
        if kind in ("lost", "slow") and (kind == "lost" or self._abort_hook is None):
            return await self._drop(scope, "timeout" if kind == "slow" else "reset")
        raw_headers = [(b"content-type", reply.content_type.encode())]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
        raw_headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": reply.body})

    def _fault_reply(self, fault: _Fault) -> Reply | None:
        if fault.kind == "html":
            return Reply.text(HTML_PAGE)
        if fault.kind == "empty":
            return Reply(200, b"")
        if fault.kind == "garbage":
            return Reply(200, GARBAGE, "application/octet-stream")
        if fault.kind == "500":
            return Reply.text(HTML_PAGE.replace("502 Bad Gateway", "500 Internal Error"), 500)
        if fault.kind == "429":
            reply = Reply.text("Too Many Requests", 429)
            reply.headers["Retry-After"] = str(fault.retry_after)
            return reply
        return None

    async def _drop(self, scope: dict[str, Any], kind: str) -> None:
        if self._abort_hook is None:
            raise _Abort(kind)
        self._abort_hook(scope)
        await asyncio.sleep(0.05)  # let the server notice the closed connection

    # --- reaching it ------------------------------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport:
        """An in-process transport (httpx.MockTransport over the ASGI app)."""
        asgi = httpx.ASGITransport(app=self)  # type: ignore[arg-type]

        async def handler(request: httpx.Request) -> httpx.Response:
            try:
                return await asgi.handle_async_request(request)
            except _Abort as exc:
                if exc.kind == "connect":
                    raise httpx.ConnectError("connection refused", request=request) from None
                if exc.kind == "timeout":
                    raise httpx.ReadTimeout("timed out", request=request) from None
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                ) from None

        return httpx.MockTransport(handler)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve over real HTTP on 127.0.0.1 (uvicorn in a thread); yields the base URL."""
        with serve_on_loopback(self) as (base_url, server):
            self._abort_hook = lambda scope: _abort_connection(server, scope)
            try:
                yield base_url
            finally:
                self._abort_hook = None


def _abort_connection(server: uvicorn.Server, scope: dict[str, Any]) -> None:
    for connection in list(server.server_state.connections):
        cycle = getattr(connection, "cycle", None)
        if cycle is not None and cycle.scope is scope:
            connection.transport.abort()


@contextmanager
def serve_on_loopback(app: Any) -> Iterator[tuple[str, uvicorn.Server]]:
    """Run an ASGI app with uvicorn on a free loopback port in a background thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http="h11", lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake upstream did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
