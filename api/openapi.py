"""The OpenAPI document as clients and fuzzers need it: every answer an operation can give.

FastAPI documents each operation's success and a ``422`` in its own ``application/json`` shape.
Ours answer every error as ``application/problem+json`` (:mod:`api.errors`), and some answers
come from layers FastAPI does not see (the body limits, the database pool). This module adds,
once, when the document is first built:

* the ``Problem`` schema, and for each operation the error statuses it can give, inferred from
  what the document says the operation is: ``429`` for all (:mod:`api.throttle`),
  ``401``/``403`` if it takes a bearer token,
  ``404`` under ``/v1``, ``409`` and ``413`` for writes, ``422`` when it takes parameters or a
  body, ``503`` for anything that reads the database or the chain;
* the request bodies that routes parse themselves (uploads, bulk registration) as components,
  so their ``$ref`` resolve;
* for the reads served without a token while public reads are open
  (:class:`~api.bodies.Token` ``OPTIONAL``), the security requirement "none, or the bearer
  token" (``[{}, {"HTTPBearer": []}]``), as ``/rpc`` declares its own.

Schemathesis checks the service against this document in the test suite
(``tests/api/test_openapi_conformance.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel

from api.bodies import Token, policy_of
from api.errors import PROBLEM_JSON
from api.schemas import (
    BATCHED_IS_UNSIGNED,
    BatchRegistration,
    DatasetCreate,
    DatasetMetadata,
    VerifyBatchRequest,
    VerifyRequest,
    VersionCreate,
    VersionMetadata,
    describe_batch_entry,
)

#: Models that routes parse from the body themselves, referenced from their ``openapi_extra``
#: (and the metadata models a batch entry's conditional schema names).
SELF_PARSED_BODIES: tuple[type[BaseModel], ...] = (
    DatasetCreate,
    VersionCreate,
    VerifyRequest,
    VerifyBatchRequest,
    BatchRegistration,
    DatasetMetadata,
    VersionMetadata,
)

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error, as RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "description": "urn:provledger:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string", "description": "Stable, machine-readable reason"},
        "detail": {"type": "string", "description": "What went wrong, for people"},
        "errors": {
            "type": "array",
            "description": "Each invalid part of the request (422)",
            "items": {
                "type": "object",
                "properties": {
                    "location": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "message": {"type": "string"},
                    "kind": {"type": "string"},
                },
            },
        },
        "error": {"type": "string", "description": "The contract's Solidity error"},
        "arguments": {"type": "object", "description": "The Solidity error's arguments"},
    },
}

_MEANINGS = {
    400: "The body could not be parsed at all (not JSON, or not UTF-8)",
    401: "No valid token (missing, unknown or revoked)",
    403: "The token may not do this",
    404: "No such resource, or none this token may see",
    409: "Conflicts with the ledger's state, or with an earlier use of the Idempotency-Key",
    413: "The body is larger than this endpoint accepts",
    422: "The request is malformed (the problem's `errors` say where)",
    429: "This client has been refused too often lately; retry after `Retry-After`",
    503: "The database or the chain is busy or unreachable; retry after `Retry-After`",
}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` build the complete document (once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for model in SELF_PARSED_BODIES:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    describe_batch_entry(schemas["BatchEntry"])
    schemas["DatasetCreate"].update(BATCHED_IS_UNSIGNED)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _declare_optional_tokens(app, document)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            _declare_problems(operation, _statuses(path, method, operation))
    return document


def _declare_optional_tokens(app: FastAPI, document: dict[str, Any]) -> None:
    public_reads = bool(getattr(app.state, "public_reads", False))
    for route in iter_route_contexts(app.routes):
        if route.path_format is None or route.path_format not in document["paths"]:
            continue  # not in the document (the documentation pages)
        if policy_of(route, public_reads=public_reads).token is not Token.OPTIONAL:
            continue
        for method in route.methods or ():
            operation = document["paths"][route.path_format].get(method.lower())
            if operation is not None:
                operation["security"] = [{}, {"HTTPBearer": []}]


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what the document says it is."""
    statuses = {429}  # any client that keeps being refused (api/throttle.py)
    if operation.get("security"):  # it takes a token: the bearer scheme of api.deps
        statuses |= {401, 403}
    if path.startswith("/v1/"):
        statuses.add(404)
        if method == "post":
            statuses.add(409)
    if method == "post":
        statuses.add(413)
    parameters = [p for p in operation.get("parameters", []) if p.get("in") in ("path", "query")]
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses.add(400)  # not JSON at all (or not UTF-8)
    if path != "/healthz":
        statuses.add(503)
    return statuses


def _declare_problems(operation: dict[str, Any], statuses: set[int]) -> None:
    responses = operation.setdefault("responses", {})
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    if "422" in responses:  # FastAPI's own shape: ours is a problem document
        responses["422"] = {"description": _MEANINGS[422], "content": problem}
    for status in sorted(statuses):
        responses.setdefault(str(status), {"description": _MEANINGS[status], "content": problem})
