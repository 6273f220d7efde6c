"""Delivery receipts: the fetching department acknowledges, signed, the sealed version it got.

A receipt (:mod:`ledger.delivery`) says "department B received version N of dataset D, these
plaintext and sealed bytes, under grant R, at time T". It is accepted only when all of that is
true now: the version is sealed with those hashes, R is B's approved grant on D on chain, the
contract's ``hasAccess`` holds for B at the current block (a receipt for access B no longer has
is refused, named as the fetch would be), and T is within :data:`MAX_SKEW` seconds of the
chain's time.

Signed by B's own key (a self-custody department signs in its client; the signature must
recover to B's key in force at the current block) or, when none is sent and the service holds
B's key, by the custodial key. A receipt signed by a key the service holds is queued and
anchored with B's other receipts (:mod:`ledger.anchoring.receipts`): B's key then signs the
root too. A self-custody department's receipt is stored with its signature and not anchored:
its signature is the whole proof, and its time the one it signed.

Who reads receipts: the dataset's owner (every receipt of its dataset), auditors and governance,
and the receiving department (its own).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from ledger.anchoring.receipts import DeliveryReceipt, ReceiptStatus, anchor_evidence
from ledger.chain.types import RequestStatus
from ledger.delivery import Receipt, receipt_domain, recover_digest
from ledger.errors import (
    ForbiddenError,
    InvalidInputError,
    InvalidSignatureError,
    ReceiptMismatchError,
    ReceiptRequestError,
    ReceiptTimeError,
    ResourceNotFoundError,
)
from ledger.index.models import IndexAccessRequest, IndexDataset
from ledger.relayer.models import Operation
from ledger.runtime import Runtime
from ledger.service.principal import Principal, PrincipalKind
from ledger.service.sealed import require_access, sealed_version
from ledger.verifier import Verifier

#: How far a receipt's time may be from the chain's time, in seconds.
MAX_SKEW = 300
#: Most receipts one listing answers.
MAX_LISTED = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordReceipt:
    """A department's receipt of a sealed version it fetched. ``request_id`` None: its
    approved grant on the dataset as indexed; ``time`` None: the chain's time; ``signature``
    None: the service signs with the department's custodial key."""

    dataset_id: bytes
    version: int
    content_hash: bytes
    sealed_sha256: bytes
    request_id: bytes | None = None
    time: int | None = None
    signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class RecordedReceipt:
    receipt: dict[str, Any]
    created: bool  # False: the same receipt was recorded before


@dataclass(frozen=True, slots=True)
class DatasetReceipts:
    dataset_id: bytes
    limit: int = 100


def record_receipt(
    session: Session, runtime: Runtime, principal: Principal, command: RecordReceipt
) -> RecordedReceipt:
    """Check and keep a receipt (not committed: the caller commits)."""
    department = require_access(session, runtime, principal, command.dataset_id)
    sealed = sealed_version(session, command.dataset_id, command.version)
    if sealed.owner == department:
        raise ReceiptRequestError("an owner does not receive its own dataset")
    if sealed.content_hash != command.content_hash:
        raise ReceiptMismatchError(
            f"version {sealed.version} holds content 0x{sealed.content_hash.hex()}, "
            f"the receipt names 0x{command.content_hash.hex()}"
        )
    if sealed.sha256.value != command.sealed_sha256:
        raise ReceiptMismatchError(
            f"version {sealed.version}'s sealed bytes are 0x{sealed.sha256.value.hex()}, "
            f"the receipt names 0x{command.sealed_sha256.hex()}"
        )
    request_id = command.request_id or _indexed_grant(session, command.dataset_id, department)
    now = runtime.chain.block_time()
    request = runtime.ledger.access.access_request(request_id)
    if (
        request.requester != department
        or request.dataset_id != command.dataset_id
        or request.status != RequestStatus.APPROVED
        or request.expires_at <= now
    ):
        raise ReceiptRequestError(
            f"request 0x{request_id.hex()} is not department {department}'s grant in force on "
            f"dataset 0x{command.dataset_id.hex()}"
        )
    moment = now if command.time is None else command.time
    if abs(moment - now) > MAX_SKEW:
        raise ReceiptTimeError(
            f"the receipt's time {moment} is {abs(moment - now)} s from the chain's {now} "
            f"(at most {MAX_SKEW} s)"
        )
    receipt = Receipt(
        dataset_id=command.dataset_id,
        version=sealed.version,
        content_hash=sealed.content_hash,
        sealed_hash=sealed.sha256.value,
        request_id=request_id,
        department_id=department,
        time=moment,
    )
    domain = receipt_domain(runtime.chain.chain_id, runtime.ledger.access.address)
    digest = receipt.digest(domain)
    receipt_id = "0x" + digest.hex()
    kept = session.get(DeliveryReceipt, receipt_id)
    if kept is not None:
        return RecordedReceipt(receipt_view(kept), created=False)
    key_in_force = runtime.ledger.departments.department(department).signer
    signer: str
    if command.signature is None:
        account = runtime.department_key(department, key_in_force)
        if account is None:
            raise ForbiddenError(
                f"department {department} holds its own key: send its signature of the receipt"
            )
        signature = receipt.sign(account, domain)
        signer = account.address
    else:
        signature = command.signature
        try:
            signer = recover_digest(digest, signature)
        except InvalidInputError as exc:
            raise InvalidSignatureError({}, message=exc.message) from exc
        if signer.lower() != key_in_force.lower():
            raise InvalidSignatureError(
                {"recovered": signer, "expected": key_in_force},
                message=f"the receipt is signed by {signer}, not department {department}'s key "
                f"in force {key_in_force} (check chain id {domain.chain_id} and registry "
                f"{domain.verifying_contract})",
            )
    # Anchored when the service can sign the root with the same key; else kept as signed.
    anchorable = runtime.department_key(department, signer) is not None
    row = DeliveryReceipt(
        id=receipt_id,
        dataset_id="0x" + command.dataset_id.hex(),
        version=sealed.version,
        content_hash="0x" + sealed.content_hash.hex(),
        sealed_sha256="0x" + sealed.sha256.value.hex(),
        request_id="0x" + request_id.hex(),
        department_id=department,
        owner_id=sealed.owner,
        time=moment,
        signature="0x" + signature.hex(),
        signer=signer,
        custodial=command.signature is None,
        status=ReceiptStatus.QUEUED if anchorable else ReceiptStatus.SIGNED,
    )
    session.add(row)
    return RecordedReceipt(receipt_view(row), created=True)


def _indexed_grant(session: Session, dataset_id: bytes, department: int) -> bytes:
    row = session.exec(
        select(IndexAccessRequest)
        .where(
            IndexAccessRequest.dataset_id == "0x" + dataset_id.hex(),
            IndexAccessRequest.requester == department,
            IndexAccessRequest.status == "approved",
        )
        .order_by(col(IndexAccessRequest.answered_at).desc())
        .limit(1)
    ).first()
    if row is None:
        raise ReceiptRequestError(
            f"department {department} has no approved grant on 0x{dataset_id.hex()} indexed yet: "
            "name its request id"
        )
    return bytes.fromhex(row.request_id[2:])


def receipt_view(row: DeliveryReceipt) -> dict[str, Any]:
    """A receipt as the API shows it."""
    return {
        "receipt_id": row.id,
        "dataset_id": row.dataset_id,
        "version": row.version,
        "content_hash": row.content_hash,
        "sealed_sha256": row.sealed_sha256,
        "request_id": row.request_id,
        "department_id": row.department_id,
        "owner_id": row.owner_id,
        "time": row.time,
        "signer": row.signer,
        "signature": row.signature,
        "custodial": row.custodial,
        "status": str(row.status),
        "batch_root": row.batch_root,
        "operation_id": row.operation_id,
        "error": None if row.error_code is None else {"code": row.error_code},
    }


def dataset_receipts(
    session: Session, runtime: Runtime, principal: Principal, query: DatasetReceipts
) -> dict[str, Any]:
    """The receipts of a dataset, newest first: all of them for its owner, auditors and
    governance, a department's own for any other department."""
    principal.require(PrincipalKind.DEPARTMENT, PrincipalKind.AUDITOR, PrincipalKind.GOVERNANCE)
    dataset_hex = "0x" + query.dataset_id.hex()
    dataset = session.get(IndexDataset, dataset_hex)
    if dataset is None:
        raise ResourceNotFoundError(f"dataset {dataset_hex} is not known (or not indexed yet)")
    statement = select(DeliveryReceipt).where(DeliveryReceipt.dataset_id == dataset_hex)
    if principal.kind is PrincipalKind.DEPARTMENT and principal.department_id != dataset.owner:
        statement = statement.where(DeliveryReceipt.department_id == principal.department_id)
    rows = session.exec(
        statement.order_by(col(DeliveryReceipt.created_at).desc(), col(DeliveryReceipt.id)).limit(
            min(query.limit, MAX_LISTED)
        )
    ).all()
    return {"dataset_id": dataset_hex, "receipts": [receipt_view(row) for row in rows]}


def receipt_bundle(
    session: Session, runtime: Runtime, principal: Principal, receipt_id: str
) -> dict[str, Any]:
    """One receipt as an offline proof bundle: the typed data, its signature and signer, and,
    once its batch is mined, the inclusion proof and the anchor (root, transaction, block, the
    department's signature of the root), checkable against any node
    (:func:`ledger.anchoring.receipts.check_bundle_on_chain`)."""
    principal.require(PrincipalKind.DEPARTMENT, PrincipalKind.AUDITOR, PrincipalKind.GOVERNANCE)
    row = session.get(DeliveryReceipt, receipt_id.lower())
    if row is None or (
        principal.kind is PrincipalKind.DEPARTMENT
        and principal.department_id not in (row.department_id, row.owner_id)
    ):
        raise ResourceNotFoundError(f"no receipt {receipt_id} that this token may read")
    receipt = Receipt(
        dataset_id=bytes.fromhex(row.dataset_id[2:]),
        version=row.version,
        content_hash=bytes.fromhex(row.content_hash[2:]),
        sealed_hash=bytes.fromhex(row.sealed_sha256[2:]),
        request_id=bytes.fromhex(row.request_id[2:]),
        department_id=row.department_id,
        time=row.time,
    )
    ledger = runtime.ledger
    domain = receipt_domain(runtime.chain.chain_id, ledger.access.address)
    view = receipt_view(row)
    anchor = None
    inclusion = None
    if row.status == ReceiptStatus.BATCHED and row.batch_root is not None:
        operation = session.exec(select(Operation).where(Operation.id == row.operation_id)).first()
        if operation is not None and operation.block_number is not None:
            anchor = anchor_evidence(
                Verifier.for_ledger(ledger), ledger.anchors, bytes.fromhex(row.batch_root[2:])
            )
        if anchor is not None:
            view["status"] = "anchored"
            inclusion = {
                "leaf_index": row.leaf_index,
                "tree_size": row.batch_size,
                "proof": json.loads(row.proof or "[]"),
            }
    return {
        **view,
        "receipt": receipt.typed_data(domain),
        "deployment": {
            "chain_id": runtime.chain.chain_id,
            "access_registry": ledger.access.address,
            "anchor_registry": ledger.anchors.address,
            "dataset_registry": ledger.datasets.address,
        },
        "inclusion": inclusion,
        "anchor": anchor,
    }
