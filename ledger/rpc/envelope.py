"""The JSON-RPC 2.0 envelope: a body becomes requests, answers become a body.

Pure code (no web3). A body is one request object or a batch (an array of 1 to ``max_batch``
of them). A request without an ``id`` member is a notification: it is carried out but never
answered, and a body of notifications only has no answer at all (JSON-RPC 2.0, section 4.1).
Whatever the body, the outcome is a list of well-formed responses: an invalid request object
gets an error with id null, never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from ledger.errors import (
    InvalidJsonError,
    JsonTooDeepError,
    RpcError,
    RpcInvalidRequestError,
    RpcParseError,
)
from ledger.jsonguard import check_json

#: Deepest nesting a JSON-RPC body of ours needs, with room to spare: batch → request →
#: params → call object → access list → entry → storage keys is 7.
MAX_JSON_DEPTH: Final = 10
#: Largest body read (geth's limit too).
MAX_BODY_BYTES: Final = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    """One valid request object. ``id`` is absent (``notification``) or a string, a number or
    null; ``params`` is an array, an object or ``None`` (absent)."""

    method: str
    params: list[Any] | dict[str, Any] | None
    id: Any = None
    notification: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    """A request object that is not valid; answered with ``error`` and id null (or its id, if
    the id itself was readable)."""

    error: RpcError
    id: Any = None


@dataclass(frozen=True, slots=True)
class Body:
    """A parsed body: its entries in order, and whether it was a batch (the answer must then
    be an array, even of one)."""

    entries: tuple[Request | Refused, ...]
    batch: bool


def parse_body(raw: bytes, *, max_batch: int = 100) -> Body:
    """Parse a request body; raise ``RpcParseError`` (not JSON, too big, too deep) or
    ``RpcInvalidRequestError`` (an empty or oversized batch, a body that is not an object or
    array) for errors that concern the body as a whole."""
    if len(raw) > MAX_BODY_BYTES:
        raise RpcParseError(f"parse error: the body is more than {MAX_BODY_BYTES} bytes")
    try:
        # Scanned for nesting before any parser sees it (ledger.jsonguard says why), and parsed
        # as the UTF-8 text the scanner read: json.loads given bytes would guess UTF-16 or -32.
        check_json(raw, max_depth=MAX_JSON_DEPTH)
    except (InvalidJsonError, JsonTooDeepError) as exc:
        raise RpcParseError(f"parse error: {exc}") from None
    try:
        document = json.loads(raw.decode(), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        # UnicodeDecodeError and JSONDecodeError are ValueErrors. Their text is not passed on:
        # "not valid JSON" is all a client needs, and the parser's words are not an interface.
        raise RpcParseError("parse error: the body is not valid JSON (UTF-8)") from None
    if isinstance(document, list):
        if not 1 <= len(document) <= max_batch:
            raise RpcInvalidRequestError(
                f"invalid request: a batch holds 1 to {max_batch} calls, got {len(document)}"
            )
        return Body(tuple(_entry(item) for item in document), batch=True)
    if isinstance(document, dict):
        return Body((_entry(document),), batch=False)
    raise RpcInvalidRequestError("invalid request: the body must be a request object or a batch")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity otherwise


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return value is None or isinstance(value, str | int | float)


def _entry(item: Any) -> Request | Refused:
    if not isinstance(item, dict):
        return Refused(RpcInvalidRequestError("invalid request: a request must be an object"))
    has_id = "id" in item
    request_id = item.get("id")
    if has_id and not _valid_id(request_id):
        return Refused(
            RpcInvalidRequestError("invalid request: id must be a string, a number or null")
        )
    if item.get("jsonrpc") != "2.0":
        return Refused(
            RpcInvalidRequestError('invalid request: "jsonrpc" must be exactly "2.0"'),
            request_id,
        )
    method = item.get("method")
    if not isinstance(method, str):
        return Refused(
            RpcInvalidRequestError("invalid request: method must be a string"), request_id
        )
    params = item.get("params")
    if "params" in item and not isinstance(params, list | dict):
        return Refused(
            RpcInvalidRequestError("invalid request: params must be an array or an object"),
            request_id,
        )
    return Request(method, params, request_id, notification=not has_id)


def result_response(request_id: Any, result: Any) -> dict[str, Any]:
    """A success response object."""
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    """An error response object: code, message and (when there is one) data."""
    body: dict[str, Any] = {"code": error.rpc_code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return {"jsonrpc": "2.0", "id": request_id, "error": body}


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "Body",
    "Refused",
    "Request",
    "error_response",
    "parse_body",
    "result_response",
]
