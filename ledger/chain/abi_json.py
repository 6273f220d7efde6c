"""Contract call arguments to and from JSON, guided by the ABI (bytes ↔ 0x-hex, tuples ↔ lists).

Outbox rows store calls as JSON so they survive restarts and read well in a database; the ABI,
not the shape of a value, decides how each one converts back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from ledger.artifacts import load_artifact
from ledger.errors import ArtifactError


def function_inputs(contract: str, function: str) -> list[dict[str, Any]]:
    """The ABI inputs of ``contract.function``."""
    for entry in load_artifact(contract).abi:
        if entry["type"] == "function" and entry["name"] == function:
            return list(entry["inputs"])
    raise ArtifactError(f"{contract} has no function {function}")


def to_json(values: list[Any] | tuple[Any, ...], inputs: list[dict[str, Any]]) -> list[Any]:
    """Call arguments as JSON-safe values."""
    return [_convert(v, i, _bytes_to_json, list) for v, i in zip(values, inputs, strict=True)]


def from_json(values: list[Any], inputs: list[dict[str, Any]]) -> list[Any]:
    """JSON values back into the arguments web3 expects."""
    return [_convert(v, i, _bytes_from_json, tuple) for v, i in zip(values, inputs, strict=True)]


def _convert(
    value: Any,
    param: dict[str, Any],
    convert_bytes: Callable[[Any], Any],
    make_tuple: Callable[[Iterator[Any]], Any],
) -> Any:
    """``value`` walked by its ABI type: arrays stay lists, a struct becomes ``make_tuple`` of
    its converted components, bytes of any length go through ``convert_bytes``."""
    kind: str = param["type"]
    if kind.endswith("[]"):
        element = {**param, "type": kind[:-2]}
        return [_convert(v, element, convert_bytes, make_tuple) for v in value]
    if kind == "tuple":
        components = zip(value, param["components"], strict=True)
        return make_tuple(_convert(v, c, convert_bytes, make_tuple) for v, c in components)
    if kind.startswith("bytes"):
        return convert_bytes(value)
    return value


def _bytes_to_json(value: Any) -> str:
    return "0x" + bytes(value).hex()


def _bytes_from_json(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def calldata(contract: str, function: str, values: list[Any]) -> bytes:
    """The call's transaction data from its JSON arguments: selector and ABI encoding.

    What web3's ``ContractFunction`` encodes, without its per-call argument normalisation
    (the relayer encodes every transaction it sends; web3 takes ~3 ms, this ~0.1 ms).
    """
    selector, types, inputs = _encoding(contract, function)
    return selector + abi_encode(types, from_json(values, inputs))


@cache
def _encoding(contract: str, function: str) -> tuple[bytes, list[str], list[dict[str, Any]]]:
    inputs = function_inputs(contract, function)
    types = [canonical_type(i) for i in inputs]
    return keccak(text=f"{function}({','.join(types)})")[:4], types, inputs


def canonical_type(param: dict[str, Any]) -> str:
    """The type as signatures spell it: a struct as its components' types in parentheses."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(canonical_type(c) for c in param["components"]) + ")" + kind[5:]
    return kind
