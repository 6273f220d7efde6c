"""Reading a contract's state from its storage, as the compiler laid it out, instead of running
its code.

A view call executes the contract in the EVM (py-evm in process: the largest share of an
auditor's verification). What the views answer is in storage, at slots the compiler reports in
its ``storageLayout`` output (kept in each artifact): a mapping's value for key ``k`` starts at
``keccak256(k . slot)``, and a struct's members follow at their slot offsets, small members
packed right-aligned into one 32-byte word. ``eth_getStorageAt`` reads the words; any node
answers it, and ``eth_getProof`` proves them against a block's state root.

Only what the contracts need is understood: value types (unsigned integers, ``bool``,
``bytes32``, ``address``) in structs held by mappings with a value-type key, and one-word values
of mappings of mappings (``value_slot``). Anything else in a
layout is refused by name, so a contract change that needs more fails loudly in the tests that
read every struct both ways (storage and view).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak

from ledger.errors import ArtifactError

#: ``eth_getStorageAt``: (slot) → the 32-byte word at that slot.
ReadWord = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class Member:
    """One value-type member of a struct: its slot after the struct's first, its byte offset
    from the right of that word, its size in bytes and its Solidity type."""

    name: str
    slot: int
    offset: int
    size: int
    type_label: str

    def decode(self, word: bytes) -> int | bool | bytes | str:
        raw = word[32 - self.offset - self.size : 32 - self.offset]
        if self.type_label == "bool":
            return raw != b"\0"
        if self.type_label.startswith("bytes"):
            return bytes(raw)
        if self.type_label == "address":
            return "0x" + raw.hex()
        return int.from_bytes(raw, "big")


@dataclass(frozen=True, slots=True)
class StructMapping:
    """A ``mapping(key => struct)`` state variable: where its entries live and how they read."""

    variable: str
    slot: int
    key_type: str
    members: tuple[Member, ...]

    def entry_slot(self, key: bytes | int) -> int:
        """The first slot of the struct stored under ``key``."""
        return _entry_slot(self.slot, key, self.key_type)

    def read(self, key: bytes | int, read_word: ReadWord) -> dict[str, Any]:
        """The struct under ``key``, each member decoded; one read per slot it occupies."""
        first = self.entry_slot(key)
        words = {slot: read_word(first + slot) for slot in sorted({m.slot for m in self.members})}
        return {m.name: m.decode(words[m.slot]) for m in self.members}


def _entry_slot(slot: int, key: bytes | int, key_type: str) -> int:
    if isinstance(key, int):
        key = key.to_bytes(32, "big")
    elif key_type.startswith("bytes") and len(key) <= 32:
        key = key.ljust(32, b"\0")  # fixed bytes are left-aligned in their word
    if len(key) != 32:
        raise ValueError(f"a {key_type} key is 32 bytes once padded, got {len(key)}")
    return int.from_bytes(keccak(key + slot.to_bytes(32, "big")), "big")


def _variable(layout: Mapping[str, Any], variable: str) -> Mapping[str, Any]:
    found = [entry for entry in layout.get("storage", []) if entry["label"] == variable]
    if len(found) != 1:
        raise ArtifactError(f"no single state variable {variable!r} in the storage layout")
    return dict(found[0])


def value_slot(layout: Mapping[str, Any], variable: str, *keys: bytes | int) -> int:
    """The slot of ``variable[keys[0]][keys[1]]…``: a mapping (of mappings) whose values are
    a value type that fills its word (``bytes32``, ``uint256``); read it whole."""
    types: Mapping[str, Any] = layout.get("types") or {}
    entry = _variable(layout, variable)
    type_id, slot = entry["type"], int(entry["slot"])
    for key in keys:
        mapping = types[type_id]
        if mapping.get("encoding") != "mapping":
            raise ArtifactError(f"{variable!r} is not a mapping {len(keys)} keys deep")
        slot = _entry_slot(slot, key, types[mapping["key"]]["label"])
        type_id = mapping["value"]
    value = types[type_id]
    if value.get("encoding") != "inplace" or "members" in value or value["numberOfBytes"] != "32":
        raise ArtifactError(f"the values of {variable!r} are not one-word value types")
    return slot


def struct_mapping(layout: Mapping[str, Any], variable: str) -> StructMapping:
    """The mapping ``variable`` of a contract's ``storageLayout`` (the compiler's output)."""
    types: Mapping[str, Any] = layout.get("types") or {}
    entry = _variable(layout, variable)
    mapping = types[entry["type"]]
    if mapping.get("encoding") != "mapping":
        raise ArtifactError(f"{variable!r} is not a mapping")
    key_type = types[mapping["key"]]["label"]
    struct = types[mapping["value"]]
    if "members" not in struct:
        raise ArtifactError(f"the values of {variable!r} are not structs")
    members = []
    for member in struct["members"]:
        member_type = types[member["type"]]
        if member_type.get("encoding") != "inplace" or "members" in member_type:
            raise ArtifactError(
                f"{variable}.{member['label']} is a {member_type['label']}: only value types "
                "are read from storage here"
            )
        members.append(
            Member(
                name=member["label"],
                slot=int(member["slot"]),
                offset=int(member["offset"]),
                size=int(member_type["numberOfBytes"]),
                type_label=member_type["label"],
            )
        )
    return StructMapping(variable, int(entry["slot"]), key_type, tuple(members))


__all__ = ["Member", "ReadWord", "StructMapping", "struct_mapping", "value_slot"]
