"""The outbox: one row per write the service has acknowledged, from 202 to confirmed/failed."""

from __future__ import annotations

import enum
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel


class OperationStatus(enum.StrEnum):
    PENDING = "pending"  # stored, not yet sent
    SUBMITTED = "submitted"  # signed transaction sent (hash known), awaiting K confirmations
    # Mined and K blocks deep on the canonical chain. Watched until its block is final: a
    # deeper reorg sends it back to SUBMITTED (``reorged`` counts how often).
    CONFIRMED = "confirmed"
    FAILED = "failed"  # reverted, or refused before sending; error_* say why


def _now() -> datetime:
    return datetime.now(UTC)


def new_operation_id() -> str:
    return "op_" + uuid.uuid4().hex


class Operation(SQLModel, table=True):
    """A contract call the relayer owes the chain.

    ``args`` is the exact call (JSON, bytes as 0x-hex) including any department signature, so
    the row alone is enough to send it again after a crash. ``raw_tx`` holds the signed
    transaction last broadcast, so a transaction lost by the node can be re-sent byte for byte.
    """

    __tablename__ = "relayer_operations"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(default_factory=new_operation_id, unique=True, index=True)
    kind: str
    contract: str
    function: str
    args: str = Field(sa_column=Column(Text, nullable=False))
    department_id: int | None = Field(default=None, sa_column=Column(BigInteger, index=True))
    signature_nonce: int | None = Field(default=None, sa_column=Column(BigInteger))
    custodial: bool = False
    # The key the department signature is by (checksummed), for by-signature calls: the relayer
    # re-signs a custodial action whose key is not the one the department will have by then.
    signer: str | None = None
    action_type: str | None = None  # EIP-712 primary type, for by-signature calls
    action_fields: str | None = Field(default=None, sa_column=Column(Text))  # its fields, sans auth
    status: str = Field(default=OperationStatus.PENDING, index=True)
    result: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    sender: str | None = None
    tx_nonce: int | None = Field(default=None, sa_column=Column(BigInteger, index=True))
    tx_hash: str | None = Field(default=None, index=True)
    raw_tx: str | None = Field(default=None, sa_column=Column(Text))
    block_number: int | None = Field(default=None, sa_column=Column(BigInteger, index=True))
    block_hash: str | None = None
    gas_used: int | None = Field(default=None, sa_column=Column(BigInteger))
    error_code: str | None = None
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    # Times its mined transaction left the canonical chain after it was settled (confirmed, or
    # failed by its receipt) and it went back to SUBMITTED.
    reorged: int = 0
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)

    def call_args(self) -> list[Any]:
        return list(json.loads(self.args))

    def result_data(self) -> dict[str, Any]:
        return dict(json.loads(self.result))


class OperationEvent(SQLModel, table=True):
    """Something the relayer did or saw that the operation's status alone does not tell: its
    transaction left the chain in a reorg (``reorged``), a nonce of the relayer's account was
    filled with an empty transaction (``nonce-gap-filled``, no operation)."""

    __tablename__ = "relayer_operation_events"

    id: int | None = Field(default=None, primary_key=True)
    operation_id: str | None = Field(default=None, index=True)
    event: str
    tx_hash: str | None = None
    tx_nonce: int | None = Field(default=None, sa_column=Column(BigInteger))
    block_number: int | None = Field(default=None, sa_column=Column(BigInteger))
    block_hash: str | None = None
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=_now)
