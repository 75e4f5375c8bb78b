"""405 METHOD_NOT_ALLOWED with an `Allow` that lists every method the path answers.

The router raises 405 from the first route whose path matched, so a path served by two
routes (GET and PATCH /v1/webhook) named only one. The path is probed here against the
app's routes once per method, only on this error path.
"""

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from app.errors import MethodNotAllowed, error_response

_PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE")


def routed(scope: Scope, method: str) -> bool:
    """Whether a route of the app answers `method` on this request's path (a fresh scope:
    matching writes into the one it is given)."""
    probe = {
        "type": "http",
        "method": method,
        "path": scope["path"],
        "root_path": scope.get("root_path", ""),
        "headers": [],
        "query_string": b"",
    }
    return any(route.matches(probe)[0] == Match.FULL for route in scope["app"].router.routes)


def allowed_methods(request: Request) -> list[str]:
    return [method for method in _PROBED if routed(request.scope, method)]


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    allow = allowed_methods(request) or (exc.headers or {}).get("Allow", "").split(", ")
    err = MethodNotAllowed()
    return error_response(err.status, err.code, err.message, headers={"Allow": ", ".join(allow)})
