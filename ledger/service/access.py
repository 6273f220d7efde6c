"""Access between departments, as the contract runs it: a department asks the owner of a
dataset; the owner approves (until an expiry within the requested duration) or denies; the
requester may cancel a pending request; the owner may revoke a grant before it expires.

Each function checks what the contract would refuse as far as it can know now (the dataset
exists and is not withdrawn, the actor is the owner or the requester, the request is in the
state the action needs), commits any purpose or reason text by its hash, and queues one signed
operation. Nothing is committed: the caller commits the session.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from ledger.chain.types import AccessRequestRecord, RequestStatus
from ledger.errors import ConflictError, ForbiddenError, InvalidInputError, ResourceNotFoundError
from ledger.index.models import IndexDataset
from ledger.relayer.actions import ClientSignature, DepartmentAction
from ledger.runtime import Runtime
from ledger.service.documents import text_commitment
from ledger.service.principal import Principal
from ledger.service.queued import Queued, department_action
from ledger.service.sealed import wrap_dataset_for
from ledger.service.visibility import may_read


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestAccess:
    dataset_id: bytes
    purpose: str
    duration_seconds: int
    salt: bytes | None = None  # fixes the request id in advance (random if None)
    signature: ClientSignature | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestAnswer:
    """An action on an existing request by one of its parties: what every answer carries."""

    request_id: bytes  # a grant's id is its request's
    signature: ClientSignature | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproveAccess(RequestAnswer):
    expires_at: int  # unix time; at most the requested duration from now


@dataclass(frozen=True, slots=True, kw_only=True)
class DenyAccess(RequestAnswer):
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequest(RequestAnswer):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokeGrant(RequestAnswer):
    reason: str = ""


@dataclass(frozen=True, slots=True)
class _Answer:
    """How the contract takes one kind of answer: from whom, to a request in which state, as
    which signed action."""

    by_owner: bool  # the dataset's owner answers; otherwise the requester
    expected: RequestStatus
    action_type: str  # the EIP-712 type the department signs
    function: str
    kind: str  # the outbox operation's


_APPROVE = _Answer(
    True, RequestStatus.PENDING, "ApproveAccess", "approveAccessBySig", "access.approve"
)
_DENY = _Answer(True, RequestStatus.PENDING, "DenyAccess", "denyAccessBySig", "access.deny")
_CANCEL = _Answer(
    False, RequestStatus.PENDING, "CancelAccessRequest", "cancelAccessRequestBySig", "access.cancel"
)
_REVOKE = _Answer(
    True, RequestStatus.APPROVED, "RevokeAccess", "revokeAccessBySig", "access.revoke"
)


def request_access(
    session: Session, runtime: Runtime, principal: Principal, command: RequestAccess
) -> Queued:
    department_id = principal.acting_department()
    dataset_hex = "0x" + command.dataset_id.hex()
    record = runtime.ledger.datasets.dataset(command.dataset_id)
    if not record.exists:
        indexed = session.get(IndexDataset, dataset_hex)
        if (
            indexed is not None
            and indexed.anchoring == "batch"
            and may_read(session, runtime, principal, indexed)
        ):
            # It exists, as a record under an anchored root: the contract grants access only
            # to datasets it holds, so say why rather than "no dataset".
            raise InvalidInputError(
                f"dataset {dataset_hex} is a batched record (only its batch's Merkle root is "
                "on chain): access requests need a dataset registered on chain "
                '(anchoring "chain", the default)'
            )
        raise ResourceNotFoundError(f"no dataset {dataset_hex}")
    if record.owner == department_id:
        raise InvalidInputError("a department already has access to its own datasets")
    if record.withdrawn:
        raise ConflictError(
            {"datasetId": dataset_hex}, message=f"dataset {dataset_hex} is withdrawn"
        )
    salt = command.salt if command.salt is not None else os.urandom(32)
    request_id = runtime.ledger.access.request_id_of(department_id, salt)
    purpose_hash = text_commitment(session, command.purpose)
    resource = {
        "request_id": "0x" + request_id.hex(),
        "dataset_id": dataset_hex,
        "salt": "0x" + salt.hex(),
        "purpose_hash": "0x" + purpose_hash.hex(),
    }
    action = DepartmentAction(
        client=runtime.ledger.access,
        action_type="RequestAccess",
        fields={
            "salt": salt,
            "datasetId": command.dataset_id,
            "purposeHash": purpose_hash,
            "requestedDuration": command.duration_seconds,
        },
        function="requestAccessBySig",
        call_args=lambda auth: [
            salt,
            command.dataset_id,
            purpose_hash,
            command.duration_seconds,
            auth.as_abi(),
        ],
        kind="access.request",
    )
    return department_action(
        session, runtime, department_id, action, resource=resource, signature=command.signature
    )


def approve_access(
    session: Session, runtime: Runtime, principal: Principal, command: ApproveAccess
) -> Queued:
    """The owner grants access until ``expires_at``, after the chain's time and within the
    requested duration (the contract counts it from the approval's block, a little later)."""

    def check_expiry(record: AccessRequestRecord) -> None:
        now = runtime.chain.block_time()
        if command.expires_at <= now:
            raise InvalidInputError(
                f"expires_at {command.expires_at} is not after the chain's time {now}"
            )
        if command.expires_at > now + record.requested_duration:
            raise InvalidInputError(
                f"expires_at {command.expires_at} is beyond the requested duration: at most "
                f"{now + record.requested_duration} (now {now} + {record.requested_duration} s)"
            )

    queued = _answer(
        session, runtime, principal, command, _APPROVE,
        fields={"expiresAt": command.expires_at}, validate=check_expiry,
    )  # fmt: skip
    # The grant delivers sealed versions too: a custodial owner's service wraps their content
    # keys to the grantee now (refused, with nothing queued, if the grantee has no key).
    record = existing_request(runtime, command.request_id)
    wrapped = wrap_dataset_for(
        session, runtime, principal.acting_department(), record.dataset_id, record.requester
    )
    queued.resource["sealed_keys_wrapped"] = wrapped
    return queued


def deny_access(
    session: Session, runtime: Runtime, principal: Principal, command: DenyAccess
) -> Queued:
    """The owner refuses a pending request; the reason's hash goes on chain."""
    reason_hash = text_commitment(session, command.reason)
    return _answer(session, runtime, principal, command, _DENY, fields={"reasonHash": reason_hash})


def cancel_request(
    session: Session, runtime: Runtime, principal: Principal, command: CancelRequest
) -> Queued:
    """The requester withdraws its pending request."""
    return _answer(session, runtime, principal, command, _CANCEL)


def revoke_grant(
    session: Session, runtime: Runtime, principal: Principal, command: RevokeGrant
) -> Queued:
    """The owner ends an approved grant before its expiry."""
    reason_hash = text_commitment(session, command.reason)
    return _answer(
        session, runtime, principal, command, _REVOKE, fields={"reasonHash": reason_hash}
    )


def existing_request(runtime: Runtime, request_id: bytes) -> AccessRequestRecord:
    """The request as the chain has it; ResourceNotFoundError if there is none (its existence
    is on chain for anyone to see, so a non-party is refused with ForbiddenError, not told it
    does not exist)."""
    record = runtime.ledger.access.access_request(request_id)
    if record.status == RequestStatus.NONE:
        raise ResourceNotFoundError(f"no access request 0x{request_id.hex()}")
    return record


def _answer(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    command: RequestAnswer,
    answer: _Answer,
    *,
    fields: dict[str, Any] | None = None,
    validate: Callable[[AccessRequestRecord], None] | None = None,
) -> Queued:
    """One of the four answers to a request, checked as the contract would: by the party
    ``answer`` names, to a request in the state it expects."""
    department_id = principal.acting_department()
    request_id = command.request_id
    rid_hex = "0x" + request_id.hex()
    record = existing_request(runtime, request_id)
    owner = runtime.ledger.datasets.dataset(record.dataset_id).owner
    if department_id != (owner if answer.by_owner else record.requester):
        who = "the dataset's owner" if answer.by_owner else "the requester"
        raise ForbiddenError(f"only {who} may do this")
    expected = answer.expected
    if record.status != expected:
        status = record.status.name.lower()
        raise ConflictError(
            {"requestId": rid_hex, "status": status},
            message=f"request {rid_hex} is {status}, expected {expected.name.lower()}",
        )
    if validate is not None:
        validate(record)
    extra = fields or {}
    resource = {"request_id": rid_hex}
    action = DepartmentAction(
        client=runtime.ledger.access,
        action_type=answer.action_type,
        fields={"requestId": request_id, **extra},
        function=answer.function,
        call_args=lambda auth: [request_id, *extra.values(), auth.as_abi()],
        kind=answer.kind,
    )
    return department_action(
        session, runtime, department_id, action, resource=resource, signature=command.signature
    )
