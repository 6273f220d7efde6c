"""Revert data → :class:`~ledger.errors.LedgerError`.

Every custom error in every committed ABI is indexed by its 4-byte selector, so a revert that
bubbled up from another contract (``EnforcedPause`` from the department registry, say) decodes
the same as one raised directly.
"""

from __future__ import annotations

import ast
from functools import cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger.artifacts import load_artifact
from ledger.compiler import CONTRACTS
from ledger.errors import (
    ContractRevertError,
    LedgerError,
    TransactionFailedError,
    contract_error_classes,
)

_ERROR_STRING = keccak(text="Error(string)")[:4]
_PANIC = keccak(text="Panic(uint256)")[:4]


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(_canonical_type(i) for i in entry['inputs'])})"


def _canonical_type(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_canonical_type(c) for c in param["components"]) + ")" + kind[5:]
    return kind


@cache
def error_table() -> dict[bytes, tuple[dict[str, Any], type[ContractRevertError]]]:
    """Selector → (ABI entry, error class) for every custom error of the deployed contracts."""
    classes = contract_error_classes()
    table: dict[bytes, tuple[dict[str, Any], type[ContractRevertError]]] = {}
    for name in CONTRACTS:
        for entry in load_artifact(name).abi:
            if entry["type"] != "error":
                continue
            cls = classes.get(entry["name"], ContractRevertError)
            table[keccak(text=_signature(entry))[:4]] = (entry, cls)
    return table


def _plain(value: Any, kind: str) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def decode_revert(data: bytes, *, tx_hash: str | None = None) -> LedgerError:
    """The error a contract reverted with, as the matching :class:`LedgerError`."""
    selector, payload = data[:4], data[4:]
    known = error_table().get(selector)
    try:
        if known is not None:
            entry, cls = known
            types = [_canonical_type(i) for i in entry["inputs"]]
            values = abi_decode(types, payload)
            args = {
                i["name"]: _plain(v, i["type"])
                for i, v in zip(entry["inputs"], values, strict=True)
            }
            if cls is ContractRevertError:
                return ContractRevertError(
                    args, message=f"the contract reverted with {_signature(entry)}"
                )
            return cls(args)
        if selector == _ERROR_STRING:
            (reason,) = abi_decode(["string"], payload)
            return TransactionFailedError(
                f"the contract reverted: {reason}", tx_hash=tx_hash, data=data
            )
        if selector == _PANIC:
            (code,) = abi_decode(["uint256"], payload)
            return TransactionFailedError(
                f"the contract panicked (code {code:#04x})", tx_hash=tx_hash, data=data
            )
    except DecodingError:
        pass
    shown = "0x" + data.hex() if data else "no data"
    return TransactionFailedError(f"the transaction reverted ({shown})", tx_hash=tx_hash, data=data)


def revert_data_from_message(message: str) -> bytes | None:
    """Revert bytes embedded by eth-tester in its ``TransactionFailed`` message, if any.

    eth-tester reports a custom-error revert as the ``repr`` of the raw bytes; web3's own
    eth-tester provider recovers them the same way (``ast.literal_eval``) for CCIP reads.
    """
    text = message.removeprefix("execution reverted: ").strip()
    if not (text.startswith("b'") or text.startswith('b"')):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, bytes) else None
