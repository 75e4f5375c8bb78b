"""Public error codes (fixed HTTP status each, per spec/API.md), the envelope, the handlers."""

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.kit.json import JSONResponse


class GatewayError(Exception):
    code = "INTERNAL_ERROR"
    status = 500
    message = "Internal error."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.details = details
        self.headers = headers
        super().__init__(self.message)


class Unauthorized(GatewayError):
    code, status, message = "UNAUTHORIZED", 401, "Missing or invalid API token."


class Forbidden(GatewayError):
    code, status, message = "FORBIDDEN", 403, "Not allowed."


class NotFound(GatewayError):
    code, status, message = "NOT_FOUND", 404, "Not found."


class MethodNotAllowed(GatewayError):
    code, status, message = "METHOD_NOT_ALLOWED", 405, "Method not allowed."


class PayloadTooLarge(GatewayError):
    code, status, message = "PAYLOAD_TOO_LARGE", 413, "Request body is too large."


class ValidationFailed(GatewayError):
    code, status, message = "VALIDATION_ERROR", 422, "Invalid request."


class ProviderError(GatewayError):
    code, status, message = "PROVIDER_ERROR", 422, "The upstream provider failed the operation."


class NoOfferAvailable(GatewayError):
    code, status, message = "NO_OFFER_AVAILABLE", 422, "No offer matches the product and policy."


class IdempotencyKeyReused(GatewayError):
    code, status = "IDEMPOTENCY_KEY_REUSED", 422
    message = "This Idempotency-Key was used with a different request body."


class InsufficientBalance(GatewayError):
    code, status, message = "INSUFFICIENT_BALANCE", 409, "Balance too low."


class Conflict(GatewayError):
    code, status, message = "CONFLICT", 409, "The resource's state does not allow this."


class CancelTooEarly(GatewayError):
    code, status, message = "CANCEL_TOO_EARLY", 409, "Too early to cancel this order."


class RequestInProgress(GatewayError):
    code, status = "REQUEST_IN_PROGRESS", 409
    message = "A request with this Idempotency-Key is still running."


class RateLimitExceeded(GatewayError):
    code, status, message = "RATE_LIMIT_EXCEEDED", 429, "Rate limit exceeded."


class TempBannedAbuseGuard(GatewayError):
    code, status = "TEMP_BANNED_ABUSE_GUARD", 429
    message = "Order creation is blocked for a while after too many failed creations."


class FxRateUnavailable(GatewayError):
    code, status, message = "FX_RATE_UNAVAILABLE", 503, "No USD/IDR exchange rate is set."


class ServiceUnavailable(GatewayError):
    code, status, message = "SERVICE_UNAVAILABLE", 503, "Service unavailable."


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", details={"fields": [{"field": field, "message": message}]}
    )


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return JSONResponse({"success": False, "error": error}, status_code=status, headers=headers)


def _field_name(err: dict[str, Any]) -> str:
    if err.get("type") == "json_invalid":
        return "body"  # its loc ends in a character offset, not a field
    parts = [str(p) for p in err.get("loc", ())]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_message(err: dict[str, Any]) -> str:
    if err.get("type") == "json_invalid":
        return "Malformed JSON body."
    if err.get("type") in {"model_attributes_type", "dict_type"} and _field_name(err) == "body":
        return "The body must be a JSON object, sent with Content-Type: application/json."
    return str(err.get("msg", "Invalid value."))


async def _gateway_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"field": _field_name(err), "message": _validation_message(err)} for err in exc.errors()
    ]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return error_response(
        422, "VALIDATION_ERROR", summary or "Invalid request.", {"fields": fields}
    )


_HTTP_CODES: dict[int, type[GatewayError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    kind = _HTTP_CODES.get(exc.status_code)
    if kind is None:
        code = "VALIDATION_ERROR" if exc.status_code == 400 else "INTERNAL_ERROR"
        status = 422 if exc.status_code == 400 else exc.status_code
        return error_response(status, code, str(exc.detail), headers=exc.headers)
    message = kind.message if kind is not NotFound else "No such route."
    return error_response(kind.status, kind.code, message, headers=exc.headers)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
