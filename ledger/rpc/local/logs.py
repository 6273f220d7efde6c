"""``eth_getLogs`` on an in-process chain, bounded.

The embedded chain answers from its indexed log table (:mod:`ledger.chain.embedded_logs`), one
range scan with ``LIMIT``; any other in-process chain (eth-tester in tests) walks the range,
skipping every block whose header bloom rules the filter out before decoding its receipts. The
range is checked as geth checks it (reversed ranges and ranges past the head are errors), and
an answer of more than ``max_logs`` logs is refused with the error other providers give, naming
a narrower range that fits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_bloom.bloom import get_bloom_bits

from ledger.errors import RpcExecutionError, RpcInvalidParamsError, RpcLimitExceededError
from ledger.rpc.filter_params import LogFilter
from ledger.rpc.local.format import format_log
from ledger.rpc.local.source import EvmSource
from ledger.rpc.params import BlockRef


def _bloom_mask(value: bytes) -> int:
    mask = 0
    for bit in get_bloom_bits(value):
        mask |= bit
    return mask


class _BloomTest:
    """Whether a block's bloom may hold a matching log: for the address alternatives and for
    each constrained topic position, one of the alternatives' bits must all be set."""

    def __init__(self, log_filter: LogFilter) -> None:
        groups: list[Iterable[bytes]] = []
        if log_filter.addresses:
            groups.append(log_filter.addresses)
        groups.extend(position for position in log_filter.topics if position is not None)
        self._groups = [[_bloom_mask(value) for value in group] for group in groups]

    def may_match(self, bloom: int) -> bool:
        return all(any(bloom & mask == mask for mask in group) for group in self._groups)


def _number(ref: BlockRef, head: int) -> int:
    if ref.number is not None:
        return ref.number
    return 0 if ref.tag == "earliest" else head


def _too_many(max_logs: int, first: int, last_fitting: int) -> RpcLimitExceededError:
    return RpcLimitExceededError(
        f"query returned more than {max_logs} results. "
        f"Try with this block range [{hex(first)}, {hex(last_fitting)}]."
    )


def find_logs(source: EvmSource, log_filter: LogFilter, *, max_logs: int) -> list[dict[str, Any]]:
    """The logs matching ``log_filter``, as the spec's ``Log`` objects, in chain order. Hold
    ``source.locked()`` while calling."""
    if log_filter.block_hash is not None:
        header = source.find_header(BlockRef(hash=log_filter.block_hash))
        if header is None:
            raise RpcExecutionError("unknown block")
        first = last = int(header.block_number)
        if source.log_table is None or not _canonical(source, header):
            return _scan_blocks(source, [header], log_filter, max_logs, first)
    else:
        head = int(source.head().block_number)
        first = _number(log_filter.from_block, head)
        last = _number(log_filter.to_block, head)
        if first > head or last > head:
            raise RpcInvalidParamsError("block range extends beyond current head block")
        if first > last:
            raise RpcInvalidParamsError("invalid block range params")
        if source.log_table is None:
            headers = (source.header(BlockRef(number=n)) for n in range(first, last + 1))
            return _scan_blocks(source, headers, log_filter, max_logs, first)
    return _from_table(source, log_filter, first, last, max_logs)


def _canonical(source: EvmSource, header: Any) -> bool:
    found = source.find_header(BlockRef(number=int(header.block_number)))
    return found is not None and found.hash == header.hash


def _from_table(
    source: EvmSource, log_filter: LogFilter, first: int, last: int, max_logs: int
) -> list[dict[str, Any]]:
    assert source.log_table is not None
    rows = source.log_table.query(
        first,
        last,
        log_filter.addresses or None,
        log_filter.topics or None,
        limit=max_logs + 1,
    )
    if len(rows) > max_logs:
        raise _too_many(max_logs, first, max(first, int(rows[-1]["block_number"]) - 1))
    logs = []
    for row in rows:
        number = int(row["block_number"])
        logs.append(
            {
                "address": "0x" + bytes(row["address"]).hex(),
                "topics": ["0x" + bytes(t).hex() for t in row["topics"]],
                "data": "0x" + bytes(row["data"]).hex(),
                "blockNumber": hex(number),
                "blockHash": "0x" + bytes(row["block_hash"]).hex(),
                "blockTimestamp": hex(source.timestamp(bytes(row["block_hash"]))),
                "transactionHash": "0x" + bytes(row["transaction_hash"]).hex(),
                "transactionIndex": hex(row["transaction_index"]),
                "logIndex": hex(row["log_index"]),
                "removed": False,
            }
        )
    return logs


def _scan_blocks(
    source: EvmSource,
    headers: Iterable[Any],
    log_filter: LogFilter,
    max_logs: int,
    first: int,
) -> list[dict[str, Any]]:
    bloom = _BloomTest(log_filter)
    logs: list[dict[str, Any]] = []
    for header in headers:
        if not bloom.may_match(int(header.bloom)):
            continue
        block = source.block_of(header)
        log_index = 0
        for tx_index, receipt in enumerate(source.receipts_of(block)):
            tx_hash = block.transactions[tx_index].hash
            for entry in receipt.logs:
                topics = tuple(t.to_bytes(32, "big") for t in entry.topics)
                if log_filter.matches(bytes(entry.address), topics):
                    if len(logs) == max_logs:
                        last_fitting = max(first, int(header.block_number) - 1)
                        raise _too_many(max_logs, first, last_fitting)
                    logs.append(format_log(entry, header, tx_hash, tx_index, log_index))
                log_index += 1
    return logs


__all__ = ["find_logs"]
