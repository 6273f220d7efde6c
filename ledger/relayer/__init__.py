"""The write path: a durable outbox in SQL and the relayer that takes it to the chain."""

from ledger.relayer.models import Operation, OperationEvent, OperationStatus
from ledger.relayer.outbox import (
    enqueue,
    next_department_status,
    next_signature_nonce,
    next_signer,
    queued_key_claim,
)
from ledger.relayer.relayer import Relayer, StaleSignatureError, TickReport

__all__ = [
    "Operation",
    "OperationEvent",
    "OperationStatus",
    "Relayer",
    "StaleSignatureError",
    "TickReport",
    "enqueue",
    "next_department_status",
    "next_signature_nonce",
    "next_signer",
    "queued_key_claim",
]
