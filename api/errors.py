"""The one place ledger errors become HTTP: ``application/problem+json`` (RFC 9457).

Every error body has a stable ``type`` (``urn:provledger:problem:<code>``), the ``code``
itself, a short ``title``, the HTTP ``status`` and a human ``detail``; contract reverts add the
Solidity ``error`` name and its ``arguments``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger import errors as e

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

#: Most specific first: the first class an error is an instance of decides its status.
_STATUS: tuple[tuple[type[e.LedgerError], int], ...] = (
    (e.AuthenticationError, 401),
    (e.InvalidSignatureError, 422),
    (e.ForbiddenError, 403),
    (e.UnauthorizedError, 403),
    (e.ResourceNotFoundError, 404),
    (e.NotFoundError, 404),
    (e.IdempotencyConflictError, 409),
    (e.ConflictError, 409),
    (e.PausedError, 503),
    (e.ContractInputError, 422),
    (e.BodyTooLargeError, 413),
    (e.InvalidJsonError, 400),
    (e.InvalidInputError, 422),
    (e.ChainUnavailableError, 503),
)

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid request",
    500: "Internal error",
    503: "Service unavailable",
}


def status_of(error: e.LedgerError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"urn:provledger:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def ledger_problem(error: e.LedgerError) -> JSONResponse:
    status = status_of(error)
    extra: dict[str, Any] = {}
    if isinstance(error, e.ContractRevertError):
        extra = {"error": error.error_name, "arguments": error.args_by_name}
    if status == 500:
        log.error("internal error: %s", error, exc_info=error)
    return problem(status, error.code, error.message, **extra)


def install(app: FastAPI) -> None:
    """Register the handlers that make every error a problem document."""

    @app.exception_handler(e.LedgerError)
    async def _ledger(_: Request, exc: e.LedgerError) -> JSONResponse:
        return ledger_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "location": list(err.get("loc", ())),
                "message": err.get("msg", ""),
                "kind": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"location": [], "message": "invalid request"}
        where = ".".join(str(p) for p in first["location"])
        return problem(422, "invalid-request", f"{where}: {first['message']}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
            exc.status_code, f"http-{exc.status_code}"
        )
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "internal-error", "an unexpected error occurred; it has been logged")
