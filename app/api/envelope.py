"""The success envelope, and OpenAPI models that document it."""

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from app.errors import GatewayError
from app.kit.json import JSONResponse, dumps

T = TypeVar("T")


def ok(data: Any, meta: dict[str, Any] | None = None, status_code: int = 200) -> JSONResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if meta is not None:
        body["meta"] = meta
    return JSONResponse(body, status_code=status_code)


def success_bytes(data: Any, meta: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {"success": True, "data": data}
    if meta is not None:
        body["meta"] = meta
    return dumps(body)


def error_bytes(exc: GatewayError) -> bytes:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details:
        error["details"] = exc.details
    return dumps({"success": False, "error": error})


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T
    meta: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorEnvelope(BaseModel):
    success: bool = False
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorEnvelope, "description": "UNAUTHORIZED"},
    422: {"model": ErrorEnvelope, "description": "VALIDATION_ERROR"},
}
