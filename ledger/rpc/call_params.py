"""The call object of ``eth_call``: the spec's ``GenericTransaction``, parsed strictly.

Pure code (no web3). Every field of ``GenericTransaction`` (``src/schemas/transaction.yaml``) is
known; anything else is refused, as the schema's ``additionalProperties: false`` says. ``data``
is accepted as geth's older name of ``input``; given both, they must be equal. Blob sidecars
(``blobs``, ``commitments``, ``proofs``) are refused: a call never needs the blobs themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ledger.rpc.params import (
    describe,
    invalid,
    parse_address,
    parse_array,
    parse_data,
    parse_hash,
    parse_quantity,
)

#: Longest access list, authorization list or blob hash list accepted in a call object.
MAX_LIST_ITEMS: Final = 1_000

_FIELDS: Final = frozenset(
    {
        "type",
        "nonce",
        "to",
        "from",
        "gas",
        "value",
        "input",
        "data",
        "gasPrice",
        "maxPriorityFeePerGas",
        "maxFeePerGas",
        "maxFeePerBlobGas",
        "accessList",
        "blobVersionedHashes",
        "blobs",
        "commitments",
        "proofs",
        "chainId",
        "authorizationList",
    }
)


@dataclass(frozen=True, slots=True)
class AccessListEntry:
    """One EIP-2930 access list entry: an address and the storage keys it pre-warms."""

    address: bytes
    storage_keys: tuple[bytes, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "address": "0x" + self.address.hex(),
            "storageKeys": ["0x" + key.hex() for key in self.storage_keys],
        }


@dataclass(frozen=True, slots=True)
class AuthorizationEntry:
    """One EIP-7702 authorization (signed delegation) of a set-code call."""

    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "chainId": hex(self.chain_id),
            "address": "0x" + self.address.hex(),
            "nonce": hex(self.nonce),
            "yParity": hex(self.y_parity),
            "r": hex(self.r),
            "s": hex(self.s),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRequest:
    """A parsed call object. ``None`` means "not given" (the server picks the default)."""

    sender: bytes | None = None
    to: bytes | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    max_fee_per_blob_gas: int | None = None
    value: int | None = None
    data: bytes | None = None
    nonce: int | None = None
    tx_type: int | None = None
    chain_id: int | None = None
    access_list: tuple[AccessListEntry, ...] | None = None
    authorization_list: tuple[AuthorizationEntry, ...] | None = None
    blob_versioned_hashes: tuple[bytes, ...] | None = None

    @property
    def has_fees(self) -> bool:
        """Whether the caller priced the call; if not, it runs at gas price 0 with the block's
        base fee treated as 0, as geth does."""
        return any(
            fee is not None
            for fee in (self.gas_price, self.max_fee_per_gas, self.max_priority_fee_per_gas)
        )

    def to_wire(self) -> dict[str, Any]:
        """The canonical JSON encoding (what we forward to a node). Call data goes out as both
        ``input`` and ``data``: nodes that predate ``input`` read ``data``."""
        wire: dict[str, Any] = {}
        for key, number in (
            ("type", self.tx_type),
            ("nonce", self.nonce),
            ("gas", self.gas),
            ("value", self.value),
            ("gasPrice", self.gas_price),
            ("maxPriorityFeePerGas", self.max_priority_fee_per_gas),
            ("maxFeePerGas", self.max_fee_per_gas),
            ("maxFeePerBlobGas", self.max_fee_per_blob_gas),
            ("chainId", self.chain_id),
        ):
            if number is not None:
                wire[key] = hex(number)
        if self.sender is not None:
            wire["from"] = "0x" + self.sender.hex()
        if self.to is not None:
            wire["to"] = "0x" + self.to.hex()
        if self.data is not None:
            wire["input"] = wire["data"] = "0x" + self.data.hex()
        if self.access_list is not None:
            wire["accessList"] = [entry.to_wire() for entry in self.access_list]
        if self.authorization_list is not None:
            wire["authorizationList"] = [entry.to_wire() for entry in self.authorization_list]
        if self.blob_versioned_hashes is not None:
            wire["blobVersionedHashes"] = ["0x" + h.hex() for h in self.blob_versioned_hashes]
        return wire


def _quantity(obj: dict[str, Any], key: str, where: str, bits: int = 256) -> int | None:
    if obj.get(key) is None:
        return None
    return parse_quantity(obj[key], f"{where}.{key}", bits=bits)


def _list(value: Any, where: str) -> list[Any]:
    return parse_array(value, where, maximum=MAX_LIST_ITEMS, items="entries", expected="an array")


def _object(value: Any, where: str, fields: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(where, f"expected an object, got {describe(value)}")
    unknown = sorted(set(value) - fields)
    if unknown:
        raise invalid(where, f"unknown field {describe(unknown[0])}")
    return value


def parse_access_list(value: Any, where: str) -> tuple[AccessListEntry, ...]:
    """An EIP-2930 access list: ``[{"address": a, "storageKeys": [h, …]}, …]``."""
    entries = []
    for i, raw in enumerate(_list(value, where)):
        here = f"{where}[{i}]"
        entry = _object(raw, here, frozenset({"address", "storageKeys"}))
        if "address" not in entry or "storageKeys" not in entry:
            raise invalid(here, "an access list entry needs address and storageKeys")
        keys = _list(entry["storageKeys"], f"{here}.storageKeys")
        entries.append(
            AccessListEntry(
                parse_address(entry["address"], f"{here}.address"),
                tuple(parse_hash(k, f"{here}.storageKeys[{j}]") for j, k in enumerate(keys)),
            )
        )
    return tuple(entries)


_AUTHORIZATION_FIELDS: Final = frozenset({"chainId", "address", "nonce", "yParity", "r", "s"})


def parse_authorization_list(value: Any, where: str) -> tuple[AuthorizationEntry, ...]:
    """An EIP-7702 authorization list (the spec's ``AuthorizationList``)."""
    entries = []
    for i, raw in enumerate(_list(value, where)):
        here = f"{where}[{i}]"
        entry = _object(raw, here, _AUTHORIZATION_FIELDS)
        missing = sorted(_AUTHORIZATION_FIELDS - set(entry))
        if missing:
            raise invalid(here, f"an authorization needs {missing[0]}")
        y_parity = parse_quantity(entry["yParity"], f"{here}.yParity", bits=8)
        if y_parity > 1:
            raise invalid(f"{here}.yParity", f"must be 0x0 or 0x1, got {hex(y_parity)}")
        entries.append(
            AuthorizationEntry(
                chain_id=parse_quantity(entry["chainId"], f"{here}.chainId"),
                address=parse_address(entry["address"], f"{here}.address"),
                nonce=parse_quantity(entry["nonce"], f"{here}.nonce", bits=64),
                y_parity=y_parity,
                r=parse_quantity(entry["r"], f"{here}.r"),
                s=parse_quantity(entry["s"], f"{here}.s"),
            )
        )
    return tuple(entries)


def parse_call_request(value: Any, where: str) -> CallRequest:
    """A call object (``GenericTransaction``), with geth's consistency rules: ``data`` equal to
    ``input`` if both are given; no ``gasPrice`` next to EIP-1559 fees; a priority fee at most
    the fee cap."""
    obj = _object(value, where, _FIELDS)
    for sidecar in ("blobs", "commitments", "proofs"):
        if sidecar in obj:
            raise invalid(f"{where}.{sidecar}", "blob sidecars are not accepted by a call")
    data = None if obj.get("data") is None else parse_data(obj["data"], f"{where}.data")
    call_input = None if obj.get("input") is None else parse_data(obj["input"], f"{where}.input")
    if data is not None and call_input is not None and data != call_input:
        raise invalid(
            where, 'both "data" and "input" are set and not equal; use "input" for call data'
        )
    tx_type = _quantity(obj, "type", where, bits=8)
    if tx_type is not None and tx_type > 4:
        raise invalid(f"{where}.type", f"unknown transaction type {hex(tx_type)}")
    gas_price = _quantity(obj, "gasPrice", where)
    max_fee = _quantity(obj, "maxFeePerGas", where)
    tip = _quantity(obj, "maxPriorityFeePerGas", where)
    if gas_price is not None and (max_fee is not None or tip is not None):
        raise invalid(
            where, "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) are specified"
        )
    if max_fee is not None and tip is not None and tip > max_fee:
        raise invalid(
            where, f"maxPriorityFeePerGas ({tip}) is greater than maxFeePerGas ({max_fee})"
        )
    hashes = obj.get("blobVersionedHashes")
    return CallRequest(
        sender=None if obj.get("from") is None else parse_address(obj["from"], f"{where}.from"),
        to=None if obj.get("to") is None else parse_address(obj["to"], f"{where}.to"),
        gas=_quantity(obj, "gas", where, bits=64),
        gas_price=gas_price,
        max_fee_per_gas=max_fee,
        max_priority_fee_per_gas=tip,
        max_fee_per_blob_gas=_quantity(obj, "maxFeePerBlobGas", where),
        value=_quantity(obj, "value", where),
        data=call_input if call_input is not None else data,
        nonce=_quantity(obj, "nonce", where, bits=64),
        tx_type=tx_type,
        chain_id=_quantity(obj, "chainId", where),
        access_list=None
        if obj.get("accessList") is None
        else parse_access_list(obj["accessList"], f"{where}.accessList"),
        authorization_list=None
        if obj.get("authorizationList") is None
        else parse_authorization_list(obj["authorizationList"], f"{where}.authorizationList"),
        blob_versioned_hashes=None
        if hashes is None
        else tuple(
            parse_hash(h, f"{where}.blobVersionedHashes[{i}]")
            for i, h in enumerate(_list(hashes, f"{where}.blobVersionedHashes"))
        ),
    )


__all__ = [
    "AccessListEntry",
    "AuthorizationEntry",
    "CallRequest",
    "parse_access_list",
    "parse_authorization_list",
    "parse_call_request",
]
