"""What body each route takes, declared next to the route, and the limits that follow from it.

A route takes small JSON unless its handler says otherwise with :func:`takes`; whether it needs
a token is read from its dependencies (:func:`api.deps.get_principal`: it does;
:func:`api.deps.get_reader`: only while public reads are off). The transport guard
(:mod:`api.guard`) finds both by matching a request to its route the way the router will, so
there is no second table of paths to drift from the routes.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute
from starlette.types import Scope

from api.deps import get_principal, get_reader
from api.uploads import MAX_ENVELOPE_BYTES

F = TypeVar("F", bound=Callable[..., Any])

_ATTRIBUTE = "__provledger_body__"


class Body(enum.Enum):
    """The kinds of request body a route takes."""

    #: Small JSON (``max_json_bytes``), the default.
    JSON = "json"
    #: JSON of the bulk endpoint: up to 10,000 records (``max_bulk_json_bytes``), parsed
    #: whatever the content type.
    BULK = "bulk"
    #: A file hashed while it streams (multipart/form-data or application/octet-stream, up to
    #: ``max_upload_bytes``, never buffered), or small JSON naming it by hash.
    UPLOAD = "upload"
    #: JSON-RPC (``max_rpc_json_bytes``): it authenticates by itself, and reads its body with
    #: the same scan (:func:`ledger.jsonguard.check_json`) to answer JSON that is malformed or
    #: too deep in its own protocol (a -32700 parse error), so the guard bounds only its size.
    RPC = "rpc"
    #: Sealed bytes for the blob store: ``application/octet-stream`` only, streamed to disk
    #: (``max_sealed_bytes``), never buffered; a token is always required.
    SEALED = "sealed"

    @property
    def scans_its_own_json(self) -> bool:
        """Whether the route scans its body itself (as :mod:`ledger.jsonguard` does) and answers
        what is not JSON, or too deep, in its own protocol rather than with a problem document."""
        return self is Body.RPC

    @property
    def always_json(self) -> bool:
        """Whether the route parses its body as JSON whatever the content type says (others
        parse only ``application/json`` and ``application/*+json``, as FastAPI does)."""
        return self in (Body.BULK, Body.RPC)


def takes(body: Body) -> Callable[[F], F]:
    """Declare on a route handler what body it takes (the guard reads it off the route)."""

    def declare(endpoint: F) -> F:
        setattr(endpoint, _ATTRIBUTE, body)
        return endpoint

    return declare


class Token(enum.Enum):
    """What a route asks of the ``Authorization`` header."""

    #: Nothing (probes, documentation), or the route checks it itself (``/rpc``).
    NONE = "none"
    #: A read of what the chain records, with public reads open: without the header the
    #: caller reads anonymously; a header that is sent must be well-formed.
    OPTIONAL = "optional"
    #: A well-formed bearer token (the dependency checks that it is valid).
    REQUIRED = "required"


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """What the guard enforces for one route before its handler runs."""

    body: Body
    token: Token


#: Requests that match no route of ours (the router answers 404/405 without reading a body),
#: and the documentation pages.
UNROUTED = RoutePolicy(Body.JSON, Token.NONE)


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call is call:
            return True
        pending.extend(current.dependencies)
    return False


def policy_of(route: RouteContext, *, public_reads: bool) -> RoutePolicy:
    """The policy of one route: its declared body, and whether it depends on a token (through
    its own dependencies or its router's); a public read's token is optional while
    ``public_reads`` are open, required otherwise."""
    if not isinstance(route.original_route, APIRoute):  # /docs, /openapi.json: no body, token
        return UNROUTED
    body = getattr(route.endpoint, _ATTRIBUTE, Body.JSON)
    dependant = getattr(route, "dependant", None) or route.original_route.dependant
    if body is Body.RPC:
        token = Token.NONE
    elif _depends_on(dependant, get_principal):
        token = Token.REQUIRED
    elif _depends_on(dependant, get_reader):
        token = Token.OPTIONAL if public_reads else Token.REQUIRED
    else:
        token = Token.NONE
    return RoutePolicy(body, token)


#: A route's path pattern, its methods (None: any), its policy.
_Entry = tuple[re.Pattern[str], frozenset[str] | None, RoutePolicy]


class RouteTable:
    """The policy of the route a request will reach: the first route whose path and method
    match, in the router's order, as the router decides.

    Built at the first request, from the router's live list of routes (every router is
    included by then); FastAPI's public :func:`~fastapi.routing.iter_route_contexts` sees
    through included routers."""

    def __init__(self, routes: Sequence[BaseRoute], *, public_reads: bool) -> None:
        self._routes = routes
        self._public_reads = public_reads
        self._table: list[_Entry] | None = None

    def _build(self) -> list[_Entry]:
        table = []
        for route in iter_route_contexts(self._routes):
            regex = getattr(route, "path_regex", None)
            if regex is None:  # a mount or host: nothing of ours sits behind one
                continue
            methods = getattr(route, "methods", None)
            policy = policy_of(route, public_reads=self._public_reads)
            table.append((regex, frozenset(methods) if methods else None, policy))
        return table

    def policy(self, scope: Scope) -> RoutePolicy:
        if self._table is None:
            self._table = self._build()
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        method = scope["method"]
        for regex, methods, policy in self._table:
            if regex.match(path) and (methods is None or method in methods):
                return policy
        return UNROUTED  # 404 or 405: the router answers without reading a body


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Largest bodies by kind, and the deepest JSON, from :class:`~ledger.config.Settings`."""

    max_json_bytes: int
    max_bulk_json_bytes: int
    max_rpc_json_bytes: int
    max_upload_bytes: int
    max_sealed_bytes: int
    max_json_depth: int

    def buffered_bytes(self, body: Body) -> int:
        """The most a route of this kind takes in a body that is read whole (JSON, and anything
        that is not a streamed upload)."""
        return {Body.BULK: self.max_bulk_json_bytes, Body.RPC: self.max_rpc_json_bytes}.get(
            body, self.max_json_bytes
        )

    @property
    def streamed_bytes(self) -> int:
        """The most an upload body carries: the file and the form around it."""
        return self.max_upload_bytes + MAX_ENVELOPE_BYTES
