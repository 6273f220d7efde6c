"""What a call worker is asked to run, and what it answers: plain data on both sides.

A :class:`CallJob` names its block by hash and its VM by class path; the worker reads the header
and the state through the service by hash, so a job carries no chain state of its own. A
:class:`CallOutcome` read from a worker is validated field by field (:meth:`CallOutcome.from_json`):
the worker runs code anyone may submit and is trusted for nothing but data of the right shape.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, cast

from ledger.errors import (
    RpcExecutionError,
    RpcInternalError,
    RpcRevertedError,
    RpcTimeoutError,
)

Status = Literal["ok", "revert", "error", "timeout"]
_STATUSES: Final = frozenset({"ok", "revert", "error", "timeout"})
#: Longest message a worker may send back.
MAX_MESSAGE: Final = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class CallJob:
    """One ``eth_call``, resolved: defaults applied, gas capped, block fixed.

    Hex strings carry bytes (``0x``-less); ``access_list`` is ``[[address, [slot, …]], …]`` and
    ``authorization_list`` ``[[chain_id, address, nonce, y_parity, r, s], …]``.
    """

    block_hash: str
    vm: str
    chain_id: int
    sender: str
    to: str | None
    gas: int
    value: int
    data: str
    has_fees: bool
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    access_list: list[list[Any]] | None = None
    authorization_list: list[list[Any]] | None = None
    timeout: float = 5.0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> CallJob:
        return cls(**json.loads(raw))


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOutcome:
    """How a call ended: ``ok`` (``output`` is the return data), ``revert`` (``output`` is the
    revert data), ``error`` (an EVM or validation error, ``message`` says which) or ``timeout``.
    """

    status: Status
    output: bytes = b""
    message: str = ""
    gas_used: int = 0

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "status": self.status,
                "output": self.output.hex(),
                "message": self.message,
                "gas_used": self.gas_used,
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> CallOutcome:
        """Parse a worker's answer; anything malformed is an internal error, not a crash."""
        try:
            document = json.loads(raw)
            status = document["status"]
            output = bytes.fromhex(document["output"])
            message = document["message"]
            gas_used = document["gas_used"]
            if status not in _STATUSES or not isinstance(message, str):
                raise ValueError("bad outcome")
            if not isinstance(gas_used, int) or isinstance(gas_used, bool):
                raise ValueError("bad outcome")
        except (ValueError, KeyError, TypeError) as exc:
            raise RpcInternalError("internal error: the EVM worker answered nonsense") from exc
        return cls(
            status=cast(Status, status),
            output=output,
            message=message[:MAX_MESSAGE],
            gas_used=gas_used,
        )


#: Selector of Solidity's ``Error(string)``.
_ERROR_STRING: Final = bytes.fromhex("08c379a0")


def revert_reason(data: bytes) -> str | None:
    """The message of an ``Error(string)`` revert, or None for any other revert data."""
    if data[:4] != _ERROR_STRING or len(data) < 4 + 64:
        return None
    offset = int.from_bytes(data[4:36], "big")
    if offset > len(data):
        return None
    start = 4 + offset
    length = int.from_bytes(data[start : start + 32], "big")
    text = data[start + 32 : start + 32 + length]
    if len(text) != length:
        return None
    return text.decode("utf-8", errors="replace")


def call_result(outcome: CallOutcome, *, limit: float) -> str:
    """The JSON-RPC result of a call outcome, or the error geth would answer with: code 3 and
    the revert data for a revert (with the reason when it is an ``Error(string)``), -32000
    with the EVM error otherwise."""
    if outcome.status == "ok":
        return "0x" + outcome.output.hex()
    if outcome.status == "revert":
        reason = revert_reason(outcome.output)
        message = "execution reverted" + (f": {reason[:MAX_MESSAGE]}" if reason else "")
        raise RpcRevertedError(message, data="0x" + outcome.output.hex())
    if outcome.status == "timeout":
        raise RpcTimeoutError(f"execution aborted (timeout = {limit:g}s)")
    raise RpcExecutionError(outcome.message or "execution failed")


__all__ = ["CallJob", "CallOutcome", "Status", "call_result", "revert_reason"]
