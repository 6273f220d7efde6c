"""The one place ledger errors become HTTP: ``application/problem+json`` (RFC 9457).

Every error body has a stable ``type`` (``urn:provledger:problem:<code>``), the ``code``
itself, a short ``title``, the HTTP ``status`` and a human ``detail``; contract reverts add the
Solidity ``error`` name and its ``arguments``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

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
    (e.NotAcceptableError, 406),
    (e.InvalidJsonError, 400),
    (e.InvalidInputError, 422),
    # Sealed data a client sent that does not open, or a wrapped key that does not unwrap:
    # what was sent is invalid, whoever sent it.
    (e.RecipientKeyMissingError, 409),
    (e.SealError, 422),
    (e.ChainUnavailableError, 503),
    (e.BlobStoreUnavailableError, 503),
    # The deployment predates a contract the feature needs: this service cannot do it there.
    (e.DeploymentTooOldError, 501),
)

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid request",
    500: "Internal error",
    501: "Not implemented by this deployment",
    503: "Service unavailable",
}


def status_of(error: e.LedgerError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"urn:provledger:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if status == 503:
        headers.setdefault("Retry-After", "1")
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def ledger_problem(error: e.LedgerError) -> JSONResponse:
    status = status_of(error)
    extra: dict[str, Any] = {}
    if isinstance(error, e.ContractRevertError):
        extra = {"arguments": error.args_by_name}
        if error.solidity_name:  # the contract's own error, not a category the service raised
            extra["error"] = error.solidity_name
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
                "message": _message(err),
                "kind": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"location": [], "message": "invalid request"}
        where = ".".join(str(p) for p in first["location"])
        return problem(422, "invalid-request", f"{where}: {first['message']}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "malformed-body",
            404: "not-found",
            405: "method-not-allowed",
            413: "too-large",
        }.get(exc.status_code, f"http-{exc.status_code}")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # RFC 9110: Allow lists every method of the resource. Starlette names only those of
            # the first route whose path matched, and GET and POST of one path live in
            # different routes here.
            headers["Allow"] = ", ".join(_allowed_methods(app, request))
        return problem(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _pool_exhausted(_: Request, exc: SQLAlchemyTimeoutError) -> JSONResponse:
        # Every connection is in use for longer than the pool's timeout: the service is
        # overloaded, not broken. Say so, and when to come back, instead of a 500.
        log.warning("database pool exhausted: %s", exc)
        return problem(503, "database-busy", "the database is busy; retry shortly")

    @app.exception_handler(OperationalError)
    async def _database_operational(_: Request, exc: OperationalError) -> JSONResponse:
        if _is_lock_timeout(exc):
            log.warning("database lock timeout: %s", exc)
            return problem(503, "database-busy", "the database is busy; retry shortly")
        log.error("database error", exc_info=exc)
        return problem(503, "database-unavailable", "the database is unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "internal-error", "an unexpected error occurred; it has been logged")


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """The methods of the resource at the request's path, for ``Allow``, as the OpenAPI
    document states them.

    One URL can fit several path templates: ``/v1/datasets/batch`` is the bulk endpoint (POST)
    and also fits ``/v1/datasets/{dataset_id}`` (GET). The resource is the most specific
    template (fewest parameters).
    """
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    fitting = [t for t in paths if compile_path(t)[0].match(request.url.path)]
    if not fitting:
        return []
    resource = min(fitting, key=lambda t: (t.count("{"), t))
    return [method.upper() for method in paths[resource]]


#: What the patterns of our ids mean, for people: pydantic only says "should match pattern".
_PATTERNS = {
    r"^0x[0-9a-fA-F]{64}$": "must be 0x followed by 64 hex digits",
    r"^0x[0-9a-fA-F]{40}$": "must be an address: 0x followed by 40 hex digits",
    r"^0x[0-9a-fA-F]{130}$": "must be a 65-byte signature: 0x followed by 130 hex digits",
    r"^tok_[0-9a-f]{16}$": "must be a token id: tok_ followed by 16 hex digits",
    r"^op_[0-9a-f]{32}$": "must be an operation id: op_ followed by 32 hex digits",
}


def _message(error: Any) -> str:
    if error.get("type") == "string_pattern_mismatch":
        meaning = _PATTERNS.get(str((error.get("ctx") or {}).get("pattern")))
        if meaning is not None:
            return meaning
    return str(error.get("msg", ""))


def _is_lock_timeout(exc: OperationalError) -> bool:
    """SQLite's busy timeout ran out, or PostgreSQL gave up waiting for a lock."""
    text = str(exc.orig).lower()
    return "database is locked" in text or "lock timeout" in text or "deadlock" in text
