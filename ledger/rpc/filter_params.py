"""The log filter of ``eth_getLogs`` (the spec's ``Filter``), parsed strictly.

Pure code (no web3). A filter is a block range (``fromBlock``/``toBlock``, ``latest`` when
absent) or one block by hash (``blockHash``, EIP-234), never both. ``address`` is an address,
a list of them, or null; an empty list means any address, as on geth and anvil. ``topics`` has at
most four positions; each is null (any topic), one topic, or a list of alternatives. A list that
is empty or holds a null matches any topic at its position, as geth reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ledger.rpc.params import (
    LATEST,
    BlockRef,
    at_most,
    describe,
    invalid,
    parse_address,
    parse_array,
    parse_block_number_or_tag,
    parse_hash,
)

#: Topic positions a log can have (LOG0 … LOG4).
MAX_TOPIC_POSITIONS: Final = 4
#: Most addresses, and most alternatives at one topic position, a filter may list (geth's bound).
MAX_ALTERNATIVES: Final = 1_000

_FIELDS: Final = frozenset({"fromBlock", "toBlock", "blockHash", "address", "topics"})

#: Alternatives at one topic position; ``None`` matches any topic there.
TopicAlternatives = tuple[bytes, ...] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LogFilter:
    """A parsed log filter: ``block_hash`` set means one block, else the range."""

    from_block: BlockRef = LATEST
    to_block: BlockRef = LATEST
    block_hash: bytes | None = None
    addresses: tuple[bytes, ...] = ()
    topics: tuple[TopicAlternatives, ...] = ()

    def matches(self, address: bytes, topics: tuple[bytes, ...]) -> bool:
        """Whether a log with this address and these topics passes the filter (geth's rule: a
        log with fewer topics than the filter has positions never matches)."""
        if self.addresses and address not in self.addresses:
            return False
        if len(topics) < len(self.topics):
            return False
        return all(
            wanted is None or topic in wanted
            for wanted, topic in zip(self.topics, topics, strict=False)
        )

    def to_wire(self) -> dict[str, Any]:
        """The canonical JSON encoding (what we forward to a node)."""
        wire: dict[str, Any] = {}
        if self.block_hash is not None:
            wire["blockHash"] = "0x" + self.block_hash.hex()
        else:
            wire["fromBlock"] = self.from_block.to_wire()
            wire["toBlock"] = self.to_block.to_wire()
        if self.addresses:
            wire["address"] = ["0x" + a.hex() for a in self.addresses]
        if self.topics:
            wire["topics"] = [
                None if alternatives is None else ["0x" + t.hex() for t in alternatives]
                for alternatives in self.topics
            ]
        return wire


def _addresses(value: Any, where: str) -> tuple[bytes, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        addresses = at_most(value, where, MAX_ALTERNATIVES, "addresses")
        return tuple(parse_address(item, f"{where}[{i}]") for i, item in enumerate(addresses))
    return (parse_address(value, where),)


def _topic_position(value: Any, where: str) -> TopicAlternatives:
    if value is None:
        return None
    if not isinstance(value, list):
        return (parse_hash(value, where),)
    alternatives = []
    for i, item in enumerate(at_most(value, where, MAX_ALTERNATIVES, "alternatives")):
        if item is None:
            # A null among the alternatives matches anything; still check the rest's syntax.
            for j, rest in enumerate(value[i + 1 :], start=i + 1):
                if rest is not None:
                    parse_hash(rest, f"{where}[{j}]")
            return None
        alternatives.append(parse_hash(item, f"{where}[{i}]"))
    return tuple(alternatives) or None


def _topics(value: Any, where: str) -> tuple[TopicAlternatives, ...]:
    if value is None:
        return ()
    positions = parse_array(
        value,
        where,
        maximum=MAX_TOPIC_POSITIONS,
        items="topic positions",
        expected="an array of topics or null",
    )
    topics = tuple(_topic_position(item, f"{where}[{i}]") for i, item in enumerate(positions))
    # Trailing wildcards constrain nothing: drop them, so matching and forwarding stay simple.
    end = len(topics)
    while end and topics[end - 1] is None:
        end -= 1
    return topics[:end]


def parse_log_filter(value: Any, where: str) -> LogFilter:
    """A ``Filter``: a block range or a block hash, addresses, topics."""
    if not isinstance(value, dict):
        raise invalid(where, f"expected a filter object, got {describe(value)}")
    unknown = sorted(set(value) - _FIELDS)
    if unknown:
        raise invalid(where, f"unknown field {describe(unknown[0])}")
    addresses = _addresses(value.get("address"), f"{where}.address")
    topics = _topics(value.get("topics"), f"{where}.topics")
    if value.get("blockHash") is not None:
        if value.get("fromBlock") is not None or value.get("toBlock") is not None:
            raise invalid(
                where, "blockHash excludes fromBlock and toBlock: choose one or the other"
            )
        return LogFilter(
            block_hash=parse_hash(value["blockHash"], f"{where}.blockHash"),
            addresses=addresses,
            topics=topics,
        )
    bounds = {}
    for key in ("fromBlock", "toBlock"):
        raw = value.get(key)
        bounds[key] = (
            LATEST
            if raw is None
            else parse_block_number_or_tag(raw, f"{where}.{key}", for_range=True)
        )
    low, high = bounds["fromBlock"], bounds["toBlock"]
    if low.number is not None and high.number is not None and low.number > high.number:
        raise invalid(where, f"invalid block range: fromBlock {low.number} > toBlock {high.number}")
    return LogFilter(from_block=low, to_block=high, addresses=addresses, topics=topics)


__all__ = [
    "MAX_ALTERNATIVES",
    "MAX_TOPIC_POSITIONS",
    "LogFilter",
    "TopicAlternatives",
    "parse_log_filter",
]
