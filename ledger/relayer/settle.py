"""Settling an operation: its outcome once confirmed, its failure, and whether a revert is one
its next attempt can remove."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ledger.chain.clients.base import ContractClient
from ledger.errors import (
    ContractRevertError,
    InvalidAccountNonceError,
    LedgerError,
    SignatureExpiredError,
    SignatureWrongSignerError,
    TransactionFailedError,
)
from ledger.relayer.models import Operation, OperationStatus


def outcome(client: ContractClient, receipt: Any) -> dict[str, Any]:
    """What a confirmed call produced, read from its events (e.g. a version number)."""
    # Named, not decoded: web3's event decoding was a tenth of the relayer's time per record.
    ours = [(log, client.event_name(log)) for log in receipt["logs"]]
    ours = [(log, name) for log, name in ours if name is not None]
    for log, name in ours:
        if name == "VersionAdded":
            # The event's first non-indexed field, so the first word of its data.
            version = int.from_bytes(bytes(log["data"])[:32], "big")
            return {"version": version, "log_index": log["logIndex"]}
        if name == "EncryptionKeyPublished":
            # The key's serial is the event's second indexed field, so its third topic.
            serial = int.from_bytes(bytes(log["topics"][2]), "big")
            return {"serial": serial, "log_index": log["logIndex"]}
    return {"log_index": ours[0][0]["logIndex"]} if ours else {}


def fail(op: Operation, error: LedgerError) -> None:
    """``op`` failed with a named error: the contract's, or the ledger's."""
    op.status = OperationStatus.FAILED
    op.error_code = error.code if not isinstance(error, ContractRevertError) else error.error_name
    op.error_message = error.message
    op.updated_at = datetime.now(UTC)


def fail_foreign(op: Operation, exc: Exception) -> None:
    """``op`` cannot be sent at all (a malformed row): failed rather than retried forever."""
    op.status = OperationStatus.FAILED
    op.error_code = "relayer-error"
    op.error_message = f"{type(exc).__name__}: {exc}"
    op.updated_at = datetime.now(UTC)


def fixable(op: Operation, error: LedgerError) -> bool:
    """Whether ``op`` reverted for a reason its next attempt can remove."""
    if isinstance(error, TransactionFailedError) and not error.data:
        return True  # out of gas, or state from earlier in its own block: estimate it next time
    if op.action_type is None:
        return False
    if isinstance(error, InvalidAccountNonceError):
        return True  # an action ahead failed after this one was signed, freeing its nonce
    # Signed by a key a failed rotation ahead never installed, or too close to its deadline:
    # a custodial signature is made again, for the key in force.
    return op.custodial and isinstance(error, SignatureWrongSignerError | SignatureExpiredError)
