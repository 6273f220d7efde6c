"""Helpers shared by the write routes: run a write idempotently in a session of its own,
acknowledge it (202), store metadata and text commitments."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.deferred import is_replay
from api.deps import Writer
from api.idempotency import Idempotency, request_fingerprint
from api.models import DeferredWrite
from api.schemas import ParentRef, SealedUpload, Signature
from ledger.chain.types import VersionRef
from ledger.errors import ChainUnavailableError, ConflictError, InvalidInputError
from ledger.hashing import Digest
from ledger.relayer import Operation, OperationStatus
from ledger.relayer.actions import ClientSignature
from ledger.relayer.models import new_operation_id
from ledger.runtime import Runtime
from ledger.service.batched import QueuedRecords as RecordsQueued
from ledger.service.principal import Principal
from ledger.service.queued import Queued
from ledger.service.sealed import SealedContent

#: The body of a write: it runs in ``session`` and answers (committing through ``accepted``).
Write = Callable[[Session, Idempotency], JSONResponse]


@dataclass(frozen=True, slots=True)
class Intent:
    """A write as it can be told again: method, path, and a JSON body the route accepts (an
    upload's is its fields with the file's ``content_hash``). Its fingerprint identifies it for
    the Idempotency-Key; while the chain is away it is what is kept, to run when it is back."""

    method: str
    path: str
    body: bytes
    #: Run again by the deferred-writes replayer: a second outage defers it no further.
    replayed: bool = False
    base_url: str = ""  # where the client reached the service, for the operation's URL

    @classmethod
    def of(cls, request: Request, body: bytes) -> Intent:
        return cls(
            request.method,
            request.url.path,
            body,
            replayed=is_replay(request),
            base_url=str(request.base_url),
        )

    @property
    def fingerprint(self) -> str:
        return request_fingerprint(self.method, self.path, self.body)


def intent_of(request: Request, body: BaseModel | None) -> Intent:
    """The intent of a JSON write: the parsed body in its canonical form (so a retry that
    differs only in whitespace or key order is the same)."""
    content = body.model_dump_json().encode() if body is not None else b""
    return Intent.of(request, content)


def idempotent_write(
    runtime: Runtime,
    principal: Principal,
    idempotency_key: str | None,
    intent: Intent,
    write: Write,
) -> JSONResponse:
    """Run ``write`` in a database session of its own, once per Idempotency-Key.

    Blocking (SQL, chain reads, signing): call it from a worker thread (plain ``def`` handlers
    run in one; ``async`` handlers ``await run_in_threadpool(...)``), never on the event loop.
    The session, and its pooled connection, live exactly as long as the write.

    If the chain is unreachable, the write is deferred (202, ``pending``) when the service is
    configured to queue writes in an outage: kept as ``intent``, and run when the chain is back
    (:mod:`api.deferred`), with its checks; a refusal then fails the operation by name.
    """
    with Session(runtime.engine) as session:
        idempotency = Idempotency(session, principal, idempotency_key, intent.fingerprint)
        if (first := idempotency.replay_or_claim()) is not None:
            return first
        with idempotency.released_on_error():
            try:
                return write(session, idempotency)
            except ChainUnavailableError:
                if runtime.settings.outage_writes != "queue" or intent.replayed:
                    raise
                session.rollback()
                return defer(session, idempotency, principal, intent)


def defer(
    session: Session, idempotency: Idempotency, principal: Principal, intent: Intent
) -> JSONResponse:
    """Keep ``intent`` to run when the chain is back; answer 202 with the operation to follow."""
    deferred = DeferredWrite(
        id=new_operation_id(),
        principal=json.dumps(
            {
                "kind": principal.kind.value,
                "token_id": principal.token_id,
                "department_id": principal.department_id,
            }
        ),
        department_id=principal.department_id,
        method=intent.method,
        path=intent.path,
        body=intent.body.decode(),
    )
    session.add(deferred)
    url = f"{intent.base_url.rstrip('/')}/v1/operations/{deferred.id}"
    payload: dict[str, Any] = {
        "operation_id": deferred.id,
        "operation_url": url,
        "status": OperationStatus.PENDING,
        "deferred": True,
        "resource": {},
    }
    idempotency.remember(202, payload)
    session.commit()
    return JSONResponse(payload, status_code=202, headers={"Location": url})


def accepted(
    request: Request,
    session: Session,
    idempotency: Idempotency,
    op: Operation,
    *,
    resource: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
) -> JSONResponse:
    """Commit the write with its idempotency record and answer 202 Accepted."""
    payload = body or {
        "operation_id": op.id,
        "operation_url": str(request.url_for("get_operation", operation_id=op.id)),
        "status": op.status,
        "resource": resource or {},
    }
    idempotency.remember(202, payload)
    session.commit()
    return JSONResponse(
        payload, status_code=202, headers={"Location": payload.get("operation_url", "")}
    )


def accept_queued(
    request: Request, session: Session, idempotency: Idempotency, queued: Queued
) -> JSONResponse:
    """:func:`accepted` for what a use case queued: its operation, and the resource it reports."""
    return accepted(request, session, idempotency, queued.operation, resource=queued.resource)


def load_json(text: str) -> Any:
    return json.loads(text)


def hex_bytes(hex32: str) -> bytes:
    return bytes.fromhex(hex32[2:])


def path_id(value: str) -> str:
    text = value.lower()
    if (
        len(text) != 66
        or not text.startswith("0x")
        or any(c not in "0123456789abcdef" for c in text[2:])
    ):
        raise InvalidInputError(
            f"dataset id must be 0x followed by 64 hex digits, got {value[:80]!r}"
        )
    return text


def sealed_content(body: SealedUpload | None) -> SealedContent | None:
    if body is None:
        return None
    return SealedContent(
        sha256=Digest(hex_bytes(body.sha256)),
        size=body.size,
        wrapped_key=hex_bytes(body.wrapped_key),
    )


def client_signature(body: Signature | None) -> ClientSignature | None:
    if body is None:
        return None
    return ClientSignature(
        nonce=body.nonce, deadline=body.deadline, signature=hex_bytes(body.signature)
    )


C = TypeVar("C")
M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], body: bytes | dict[str, Any]) -> M:
    """``body`` (raw JSON, or a document already parsed) as ``model``; what does not fit is a
    422 with the fields named, as FastAPI answers for the bodies it parses itself."""
    try:
        if isinstance(body, bytes):
            return model.model_validate_json(body)
        return model.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


def queue_write(
    writer: Writer,
    body: BaseModel | None,
    case: Callable[[Session, Runtime, Principal, C], Queued],
    command: C,
) -> JSONResponse:
    """Run the use case once per Idempotency-Key and answer 202 with what it queued."""
    request, runtime, principal = writer.request, writer.runtime, writer.principal

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        queued = case(session, runtime, principal, command)
        return accept_queued(request, session, idempotency, queued)

    intent = intent_of(request, body)
    return idempotent_write(runtime, principal, writer.idempotency_key, intent, write)


def refs(parents: list[ParentRef]) -> tuple[VersionRef, ...]:
    """Parent references of a request as the ledger takes them."""
    return tuple(VersionRef(hex_bytes(p.dataset_id), p.version) for p in parents)


def acknowledge_records(
    session: Session, idempotency: Idempotency, payload: dict[str, Any]
) -> JSONResponse:
    """Commit queued batched records with their idempotency record and answer 202."""
    idempotency.remember(202, payload)
    try:
        session.commit()
    except IntegrityError as exc:
        # Another request numbered a version of the same dataset first (partial unique index).
        session.rollback()
        raise ConflictError(
            {},
            message="a concurrent request registered a version of the same dataset first: "
            "nothing of this request was stored; send it again",
        ) from exc
    return JSONResponse(payload, status_code=202)


def acknowledge_record(
    request: Request, session: Session, idempotency: Idempotency, queued: RecordsQueued
) -> JSONResponse:
    """:func:`acknowledge_records` for one record, answered as any single write is."""
    (op_id,) = queued.operation_ids
    url = str(request.url_for("get_operation", operation_id=op_id))
    payload = {
        "operation_id": op_id,
        "operation_url": url,
        "status": "pending",
        "resource": queued.results[0],
    }
    response = acknowledge_records(session, idempotency, payload)
    response.headers["Location"] = url
    return response
