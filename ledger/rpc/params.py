"""Strict parsing of JSON-RPC parameter values: the base types of ethereum/execution-apis.

Pure code (no web3): every function takes a decoded JSON value and the place it came from
(``where``, e.g. ``"eth_getBalance argument 1 (block)"``) and returns a typed value, or raises
:class:`~ledger.errors.RpcInvalidParamsError` with a message that names that place. Nothing else
is ever raised, whatever the input (a property test holds us to it).

The encodings follow ``src/schemas/base-types.yaml`` and ``block.yaml`` of the spec:

* quantity (``uint``): ``0x`` and hex digits without leading zeros, ``0x0`` for zero; bounded
  (256 bits for values, 64 bits for block numbers, as geth's ``hexutil`` does);
* data (``bytes``): ``0x`` and an even number of hex digits; fixed sizes for addresses (20),
  hashes (32);
* block tags ``latest | earliest | pending | safe | finalized``; a block number; a block hash;
  or an EIP-1898 object ``{"blockHash": h, "requireCanonical": b}`` / ``{"blockNumber": n}``.

Hex digits may be upper or lower case, as every node accepts; the ``0x`` prefix is required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal, cast, get_args

from ledger.errors import RpcInvalidParamsError

BlockTag = Literal["latest", "earliest", "pending", "safe", "finalized"]
BLOCK_TAGS: Final[frozenset[str]] = frozenset(get_args(BlockTag))

_HEX_DIGITS: Final = re.compile(r"[0-9a-fA-F]*")
#: Longest string we look at as a number at all (a 256-bit quantity has 66 characters).
_MAX_QUANTITY_CHARS: Final = 2 + 64


def invalid(where: str, problem: str) -> RpcInvalidParamsError:
    """The error for a malformed value at ``where``."""
    return RpcInvalidParamsError(f"invalid params: {where}: {problem}")


def describe(value: Any) -> str:
    """A short, safe rendering of a JSON value for an error message (never the whole value)."""
    if isinstance(value, str):
        shown = value if len(value) <= 70 else value[:67] + "..."
        return repr(shown)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a value of an unknown type"


def _hex_body(value: Any, where: str, kind: str) -> str:
    if not isinstance(value, str):
        raise invalid(where, f"expected {kind} (a 0x-prefixed hex string), got {describe(value)}")
    if not value.startswith("0x"):
        raise invalid(where, f"hex string without 0x prefix: {describe(value)}")
    body = value[2:]
    if _HEX_DIGITS.fullmatch(body) is None:
        raise invalid(where, f"invalid hex string: {describe(value)}")
    return body


def parse_quantity(value: Any, where: str, *, bits: int = 256) -> int:
    """A hex quantity (``uint``): no leading zeros, at most ``bits`` bits."""
    if isinstance(value, str) and len(value) > _MAX_QUANTITY_CHARS:
        raise invalid(where, f"hex number > {bits} bits")
    body = _hex_body(value, where, "a hex quantity")
    if not body:
        raise invalid(where, 'hex string "0x" has no digits (zero is "0x0")')
    if len(body) > 1 and body[0] == "0":
        raise invalid(where, f"hex number with leading zero digits: {describe(value)}")
    number = int(body, 16)
    if number.bit_length() > bits:
        raise invalid(where, f"hex number > {bits} bits")
    return number


def parse_data(value: Any, where: str) -> bytes:
    """Hex data (``bytes``): ``0x`` and an even number of hex digits."""
    body = _hex_body(value, where, "hex data")
    if len(body) % 2:
        raise invalid(where, f"hex string of odd length: {describe(value)}")
    return bytes.fromhex(body)


def parse_fixed(value: Any, where: str, size: int, kind: str) -> bytes:
    """Hex data of exactly ``size`` bytes (an address, a hash)."""
    body = _hex_body(value, where, kind)
    if len(body) != 2 * size:
        raise invalid(where, f"{kind} must be {size} bytes, got {describe(value)}")
    return bytes.fromhex(body)


def parse_address(value: Any, where: str) -> bytes:
    """A 20-byte address (any letter case; the EIP-55 checksum is not required)."""
    return parse_fixed(value, where, 20, "an address")


def parse_hash(value: Any, where: str) -> bytes:
    """A 32-byte hash."""
    return parse_fixed(value, where, 32, "a hash")


def parse_bool(value: Any, where: str) -> bool:
    """A JSON boolean (not a string, not a number)."""
    if not isinstance(value, bool):
        raise invalid(where, f"expected true or false, got {describe(value)}")
    return value


def at_most(values: list[Any], where: str, maximum: int, items: str) -> list[Any]:
    """``values``, if there are no more than ``maximum`` of them (``items`` names them in the
    error: "storage keys"). Every list a client sends is bounded, so no request costs more
    than its bounds allow."""
    if len(values) > maximum:
        raise invalid(where, f"at most {maximum} {items}, got {len(values)}")
    return values


def parse_array(
    value: Any, where: str, *, maximum: int, items: str, expected: str | None = None
) -> list[Any]:
    """A JSON array of at most ``maximum`` values: :func:`at_most`, refusing anything but an
    array as ``expected`` (default "an array of ``items``")."""
    if not isinstance(value, list):
        wanted = expected or f"an array of {items}"
        raise invalid(where, f"expected {wanted}, got {describe(value)}")
    return at_most(value, where, maximum, items)


def parse_count(value: Any, where: str, *, maximum: int) -> int:
    """A count given as a hex quantity or a JSON integer (geth's ``HexOrDecimal64``), from 1 to
    ``maximum``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        number = parse_quantity(value, where, bits=64)
    if not 1 <= number <= maximum:
        raise invalid(where, f"must be between 1 and {maximum}, got {number}")
    return number


@dataclass(frozen=True, slots=True)
class StorageKey:
    """A storage slot as given (``bytesMax32``): its value, and the form to echo back."""

    slot: int
    text: str

    @property
    def echo(self) -> str:
        """The key as ``eth_getProof`` returns it: geth echoes a full 32-byte key unchanged and
        any shorter one as a quantity."""
        return self.text if len(self.text) == 66 else hex(self.slot)


def parse_storage_key(value: Any, where: str) -> StorageKey:
    """A storage slot (``bytesMax32``): up to 32 bytes of hex, leading zeros and odd length
    allowed, as tools commonly send ``0x0`` or a zero-padded word."""
    if not isinstance(value, str):
        raise invalid(where, f"expected a storage key (0x-prefixed hex), got {describe(value)}")
    if len(value) > 66:
        raise invalid(where, f"storage key too long (want at most 32 bytes): {describe(value)}")
    body = _hex_body(value, where, "a storage key")
    if not body:
        raise invalid(where, 'storage key "0x" has no digits')
    return StorageKey(int(body, 16), "0x" + body.lower())


@dataclass(frozen=True, slots=True)
class BlockRef:
    """Which block a call is about: exactly one of a tag, a number or a hash.

    ``require_canonical`` only matters with a hash (EIP-1898): the block must then be on the
    canonical chain.
    """

    tag: BlockTag | None = None
    number: int | None = None
    hash: bytes | None = None
    require_canonical: bool = False

    def to_wire(self) -> str | dict[str, Any]:
        """The canonical JSON-RPC encoding (what we forward to a node)."""
        if self.tag is not None:
            return self.tag
        if self.number is not None:
            return hex(self.number)
        assert self.hash is not None
        if self.require_canonical:
            return {"blockHash": "0x" + self.hash.hex(), "requireCanonical": True}
        return "0x" + self.hash.hex()


LATEST: Final = BlockRef(tag="latest")


def parse_block_number_or_tag(value: Any, where: str, *, for_range: bool = False) -> BlockRef:
    """``BlockNumberOrTag`` (or ``BlockNumberOrTagForRange``, which has no ``pending``)."""
    if isinstance(value, str) and value in BLOCK_TAGS:
        if for_range and value == "pending":
            raise invalid(where, '"pending" is not a block of a range (use "latest")')
        return BlockRef(tag=cast(BlockTag, value))
    if isinstance(value, str) and not value.startswith("0x"):
        tags = ", ".join(sorted(BLOCK_TAGS - ({"pending"} if for_range else set())))
        raise invalid(where, f"expected a block number or one of {tags}; got {describe(value)}")
    return BlockRef(number=parse_quantity(value, where, bits=64))


def parse_block_id(value: Any, where: str) -> BlockRef:
    """``BlockNumberOrTagOrHash``, or an EIP-1898 block object."""
    if isinstance(value, dict):
        return _parse_eip1898(value, where)
    if isinstance(value, str) and len(value) == 66:
        return BlockRef(hash=parse_hash(value, where))
    return parse_block_number_or_tag(value, where)


def _parse_eip1898(value: dict[str, Any], where: str) -> BlockRef:
    unknown = sorted(set(value) - {"blockHash", "blockNumber", "requireCanonical"})
    if unknown:
        raise invalid(where, f"unknown field {describe(unknown[0])} in a block object")
    if ("blockHash" in value) == ("blockNumber" in value):
        raise invalid(where, "a block object needs exactly one of blockHash and blockNumber")
    if "blockNumber" in value:
        if "requireCanonical" in value:
            raise invalid(where, "requireCanonical goes with blockHash, not blockNumber")
        return parse_block_number_or_tag(value["blockNumber"], f"{where}.blockNumber")
    canonical = parse_bool(value.get("requireCanonical", False), f"{where}.requireCanonical")
    return BlockRef(
        hash=parse_hash(value["blockHash"], f"{where}.blockHash"), require_canonical=canonical
    )


__all__ = [
    "BLOCK_TAGS",
    "LATEST",
    "BlockRef",
    "BlockTag",
    "StorageKey",
    "describe",
    "invalid",
    "parse_address",
    "parse_block_id",
    "parse_block_number_or_tag",
    "parse_bool",
    "parse_count",
    "parse_data",
    "parse_fixed",
    "parse_hash",
    "parse_quantity",
    "parse_storage_key",
]
