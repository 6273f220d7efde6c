"""JSON forms of chain values: bytes as 0x-hex. Pure: no web3, no database."""

from __future__ import annotations

from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` with every bytes as 0x-hex, recursively (EIP-712 documents, call arguments)."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def to_hex(value: bytes) -> str:
    """``value`` as 0x-hex."""
    return "0x" + value.hex()


def from_hex(value: object) -> bytes:
    """The bytes of 0x-hex text; ``ValueError`` for anything else."""
    text = str(value)
    if not text.startswith("0x"):
        raise ValueError(f"expected 0x-hex, got {text[:20]!r}")
    return bytes.fromhex(text[2:])
