"""Decoding a contract's event logs from its ABI, once per event type rather than per log.

web3's ``get_event_data`` re-derives everything from the ABI for every log (the event's topic
hash, each type's decoder, its normalisers): about 2 ms a log, which dominated verification.
:class:`EventDecoder` prepares those once; a log then costs one ``eth_abi`` decode of its data
and a conversion per indexed topic. Its output is web3's (checksummed addresses, structs as
dicts keyed by component name, dynamic indexed values as their 32-byte hash):
``tests/ledger/chain/test_event_abi.py`` checks the two agree on every event the contracts emit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address

from ledger.chain.abi_json import canonical_type

_DYNAMIC = ("string", "bytes")


class EventDecoder:
    """One event type's decoder: ``decode(topics, data)`` → its arguments by name."""

    def __init__(self, abi: dict[str, Any]) -> None:
        self.name = str(abi["name"])
        inputs = list(abi["inputs"])
        self._indexed = [i for i in inputs if i.get("indexed")]
        self._data = [i for i in inputs if not i.get("indexed")]
        self._data_types = [canonical_type(i) for i in self._data]
        self._order = [str(i["name"]) for i in inputs]

    def decode(self, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
        if len(topics) != 1 + len(self._indexed):
            raise ValueError(
                f"{self.name} has {len(self._indexed)} indexed arguments, the log "
                f"{len(topics) - 1} topics"
            )
        args: dict[str, Any] = {}
        for param, topic in zip(self._indexed, topics[1:], strict=True):
            args[param["name"]] = _indexed_value(param, bytes(topic))
        values = abi_decode(self._data_types, bytes(data)) if self._data else ()
        for param, value in zip(self._data, values, strict=True):
            args[param["name"]] = _named(param, value)
        return {name: args[name] for name in self._order}


def _indexed_value(param: dict[str, Any], topic: bytes) -> Any:
    kind = str(param["type"])
    if kind in _DYNAMIC or kind.startswith("tuple") or kind.endswith("]"):
        return topic  # dynamic or compound values are indexed by their hash
    (value,) = abi_decode([kind], topic)
    return _named(param, value)


def _named(param: dict[str, Any], value: Any) -> Any:
    kind = str(param["type"])
    if kind.endswith("]"):
        inner = {**param, "type": kind[: kind.rindex("[")]}
        return [_named(inner, item) for item in value]
    if kind == "tuple":
        return {
            str(c["name"]): _named(c, v) for c, v in zip(param["components"], value, strict=True)
        }
    if kind == "address":
        return to_checksum_address(value)
    return value


__all__ = ["EventDecoder"]
