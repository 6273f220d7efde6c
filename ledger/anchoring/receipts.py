"""Delivery receipts kept by the service, batched into anchored roots, and checked on chain.

A receipt (:mod:`ledger.delivery`) signed by a custodial department's key is queued here and
flushed with the department's other receipts into one RFC 6962 tree, whose root is anchored by
``AnchorRegistry.anchorBatchBySig`` signed by the same department's custodial key (the
anchor's ``metadataHash`` is :data:`~ledger.delivery.RECEIPT_BATCH_COMMITMENT`, so a root of
receipts is never read as a root of dataset records, and the leaves are domain-separated too).
The receiving department's key then signs twice: the receipt, and the root that commits to it.

A self-custody department's receipt is stored with its own signature and not anchored: the
service holds no key of that department to sign a root with, and a root signed by another key
would prove nothing about the department. Its signature alone is the non-repudiation; its time
is the one it signed.

Receipts are their own queue, beside the dataset records' (:mod:`ledger.anchoring.batcher`),
because nothing that reads those records (versions numbered in queue order, verification by
content hash, the indexer joining anchored roots to their records) must ever meet a receipt.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from hexbytes import HexBytes
from sqlalchemy import BigInteger, Column, Index, Text, update
from sqlmodel import Field, Session, SQLModel, col, select

from ledger.anchoring.batcher import Batcher, fail_row, placed
from ledger.anchoring.records import Batch
from ledger.anchoring.verify import ChainReader, anchor_authoriser, anchor_log
from ledger.chain.clients.access import AccessRegistryClient
from ledger.chain.clients.anchors import AnchorRegistryClient
from ledger.delivery import (
    RECEIPT_BATCH_COMMITMENT,
    OfflineFacts,
    check_bundle_offline,
    leaf_digest,
)
from ledger.encoding import jsonable
from ledger.errors import InvalidProofError
from ledger.relayer.models import Operation, OperationStatus


class ReceiptStatus(enum.StrEnum):
    QUEUED = "queued"  # custodial: waiting for its batch
    BATCHED = "batched"  # in a batch; where it stands is the anchor operation's status
    FAILED = "failed"  # its batch's anchor failed; error_* say why
    SIGNED = "signed"  # self-custody: stored with the department's signature, not anchored


def _now() -> datetime:
    return datetime.now(UTC)


class DeliveryReceipt(SQLModel, table=True):
    """One delivery receipt: its fields, its signature, and where its batch stands."""

    __tablename__ = "api_receipts"
    __table_args__ = (
        Index("ix_api_receipts_pending", "department_id", "status", "created_at"),
        Index("ix_api_receipts_dataset", "dataset_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=66)  # the EIP-712 digest, 0x-hex
    dataset_id: str = Field(max_length=66)
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    content_hash: str = Field(max_length=66)
    sealed_sha256: str = Field(max_length=66)
    request_id: str = Field(max_length=66)
    department_id: int = Field(sa_column=Column(BigInteger, nullable=False))  # the receiver
    owner_id: int = Field(sa_column=Column(BigInteger, nullable=False))  # the dataset's owner
    time: int = Field(sa_column=Column(BigInteger, nullable=False))
    signature: str = Field(max_length=132)
    signer: str = Field(max_length=42)
    custodial: bool = False
    status: str = Field(default=ReceiptStatus.QUEUED, max_length=16)
    batch_root: str | None = Field(default=None, max_length=66, index=True)
    batch_size: int | None = Field(default=None, sa_column=Column(BigInteger))
    leaf_index: int | None = Field(default=None, sa_column=Column(BigInteger))
    proof: str | None = Field(default=None, sa_column=Column(Text))  # JSON list of 0x-hex
    operation_id: str | None = Field(default=None, max_length=40)
    error_code: str | None = None
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)


class ReceiptBatcher(Batcher):
    """Flushes each department's queued receipts into one anchored root, on the records'
    schedule: at ``max_records`` receipts, or when the oldest has waited ``max_age`` seconds."""

    _queue: ClassVar[Any] = DeliveryReceipt
    _name: ClassVar[str] = "receipt batcher"
    _format: ClassVar[bytes] = RECEIPT_BATCH_COMMITMENT

    def _pending(self, department_id: int) -> Any:
        return (
            select(DeliveryReceipt)
            .where(
                DeliveryReceipt.department_id == department_id,
                DeliveryReceipt.status == ReceiptStatus.QUEUED,
            )
            .order_by(col(DeliveryReceipt.created_at), col(DeliveryReceipt.id))
        )

    def _leaf(self, row: Any) -> bytes:
        return leaf_digest(bytes.fromhex(row.id[2:]))

    def _batched(self, session: Session, rows: Sequence[Any], batch: Batch, op: Operation) -> None:
        root = "0x" + batch.root.hex()
        session.execute(
            update(DeliveryReceipt),
            [
                {
                    "id": row.id,
                    "batch_root": root,
                    "batch_size": batch.size,
                    "operation_id": op.id,
                    **placed(proof),
                }
                for row, proof in zip(rows, batch.proofs, strict=True)
            ],
        )

    def _settle_failures(self) -> int:
        with Session(self.engine) as session:
            pairs = session.exec(
                select(DeliveryReceipt, Operation)
                .join(Operation, col(Operation.id) == col(DeliveryReceipt.operation_id))
                .where(
                    DeliveryReceipt.status == ReceiptStatus.BATCHED,
                    Operation.status == OperationStatus.FAILED,
                )
            ).all()
            for receipt, op in pairs:
                fail_row(receipt, op.error_code or "anchor-failed", op.error_message or "")
                session.add(receipt)
            session.commit()
        return len(pairs)


# --- the anchor, read from the chain; a bundle checked against it ----------------------------


def anchor_evidence(
    reader: ChainReader, anchors: AnchorRegistryClient, root: bytes
) -> dict[str, Any] | None:
    """Where ``root`` was anchored (transaction, block, time) and the department's signed
    ``AnchorBatch`` typed data recovered from the anchoring transaction, or None if no
    ``BatchAnchored`` log names it (not mined yet, or reorged away)."""
    try:
        entry = anchor_log(reader, anchors, root)
    except InvalidProofError:
        return None
    tx = reader.chain.call(
        lambda: reader.w3.eth.get_transaction(HexBytes(entry["transactionHash"]))
    )
    block = reader.chain.call(lambda: reader.w3.eth.get_block(int(entry["blockNumber"])))
    authorised_by, signer, signature, typed_data = anchor_authoriser(
        anchors, bytes(tx["input"]), str(tx["from"])
    )
    return {
        "root": "0x" + root.hex(),
        "contract": anchors.address,
        "tx_hash": HexBytes(entry["transactionHash"]).to_0x_hex(),
        "block_number": int(entry["blockNumber"]),
        "block_hash": HexBytes(entry["blockHash"]).to_0x_hex(),
        "block_time": int(block["timestamp"]),
        "log_index": int(entry["logIndex"]),
        "authorised_by": authorised_by,
        "signer": signer,
        "signature": signature,
        "typed_data": jsonable(typed_data),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptVerdict:
    """A receipt's bundle, checked: who received what, and whether the chain anchors it."""

    receipt: dict[str, Any]
    signer: str
    anchored: bool
    block_number: int | None
    tx_hash: str | None
    checks: tuple[str, ...]


def check_bundle_on_chain(
    reader: ChainReader,
    access: AccessRegistryClient,
    anchors: AnchorRegistryClient,
    bundle: Any,
) -> ReceiptVerdict:
    """A receipt's proof bundle checked offline (:func:`~ledger.delivery.check_bundle_offline`)
    and then against the chain ``reader`` reads.

    Trust preconditions: the node serves the chain it names, and ``access`` and ``anchors`` are
    the deployment's registries (an auditor takes their addresses from the deployment record,
    not from the bundle). Raises :class:`InvalidProofError` naming the first claim that does
    not hold: the receipt's domain is another chain or registry, its grant is not the
    receiving department's on that dataset, the root is not anchored by that department with
    that size, the anchoring transaction was not signed by the receipt's signer, or that
    signer was not the department's key in force at the anchor's block.
    """
    facts = check_bundle_offline(bundle)
    receipt = facts.receipt
    checks = ["receipt signature", "typed data digest"]
    _check_domain(facts, reader.chain.chain_id, access.address)
    checks.append("domain: this chain and access registry")
    request = access.access_request(receipt.request_id)
    if request.requester != receipt.department_id or request.dataset_id != receipt.dataset_id:
        raise InvalidProofError(
            f"request 0x{receipt.request_id.hex()} is department {request.requester}'s on "
            f"dataset 0x{request.dataset_id.hex()}, not the receipt's department "
            f"{receipt.department_id} on 0x{receipt.dataset_id.hex()}"
        )
    checks.append("grant: the receiving department's request on that dataset")
    if facts.root is None:
        head = reader.chain.head()[0]
        key = reader.department_key_at(receipt.department_id, head)
        if key.lower() != facts.signer.lower():
            raise InvalidProofError(
                f"the receipt is signed by {facts.signer}, department {receipt.department_id}'s "
                f"key is {key} (an unanchored receipt is checked against the key in force now)"
            )
        checks.append("signer: the department's key in force (not anchored)")
        return ReceiptVerdict(
            receipt=receipt.message(),
            signer=facts.signer,
            anchored=False,
            block_number=None,
            tx_hash=None,
            checks=tuple(checks),
        )
    anchor = anchors.anchor(facts.root)
    if anchor.department == 0:
        raise InvalidProofError(f"no batch with root 0x{facts.root.hex()} is anchored on chain")
    if anchor.department != receipt.department_id or anchor.size != facts.tree_size:
        raise InvalidProofError(
            f"root 0x{facts.root.hex()} was anchored by department {anchor.department} with "
            f"{anchor.size} leaves; the receipt is department {receipt.department_id}'s in a "
            f"tree of {facts.tree_size}"
        )
    evidence = anchor_evidence(reader, anchors, facts.root)
    if evidence is None:
        raise InvalidProofError(f"no BatchAnchored log names root 0x{facts.root.hex()}")
    if str(evidence["signer"]).lower() != facts.signer.lower():
        raise InvalidProofError(
            f"the anchoring transaction was authorised by {evidence['signer']}, the receipt was "
            f"signed by {facts.signer}"
        )
    block_number = int(evidence["block_number"])
    key = reader.department_key_at(receipt.department_id, block_number, int(evidence["log_index"]))
    if key.lower() != facts.signer.lower():
        raise InvalidProofError(
            f"department {receipt.department_id}'s key at block {block_number} was {key}, "
            f"not the receipt's signer {facts.signer}"
        )
    checks += [
        "inclusion in the anchored root",
        "anchor: this department, this size",
        "anchoring transaction signed by the receipt's signer",
        "signer: the department's key in force at the anchor's block",
    ]
    return ReceiptVerdict(
        receipt=receipt.message(),
        signer=facts.signer,
        anchored=True,
        block_number=block_number,
        tx_hash=str(evidence["tx_hash"]),
        checks=tuple(checks),
    )


def _check_domain(facts: OfflineFacts, chain_id: int, access_registry: str) -> None:
    domain = facts.domain
    if domain.chain_id != chain_id:
        raise InvalidProofError(
            f"the receipt was signed for chain {domain.chain_id}, the node serves {chain_id}"
        )
    if domain.verifying_contract.lower() != access_registry.lower():
        raise InvalidProofError(
            f"the receipt was signed for registry {domain.verifying_contract}, "
            f"the deployment's access registry is {access_registry}"
        )
