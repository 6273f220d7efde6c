"""Fee answers of an in-process chain: ``eth_feeHistory``, ``eth_gasPrice``,
``eth_maxPriorityFeePerGas``.

``eth_feeHistory`` follows the spec (``src/eth/fee_market.yaml``) and geth's algorithm: base fees
of the range plus the next block's, gas used ratios, the blob fields from Cancun on, and, when
percentiles are asked for, each block's effective tips sorted and weighted by the gas each
transaction used. There is no fee market to read a tip suggestion from (one authority mines
whatever arrives), so the suggested tip is a constant 1 gwei, anvil's default, and the gas price
is the next base fee plus that tip.
"""

from __future__ import annotations

import importlib
from typing import Any, Final

from eth.vm.chain_context import ChainContext

from ledger.rpc.local.format import effective_gas_price
from ledger.rpc.local.source import EvmSource
from ledger.rpc.params import BlockRef

#: The tip suggested by ``eth_maxPriorityFeePerGas`` (wei).
SUGGESTED_TIP: Final = 10**9


def _next_header(source: EvmSource, header: Any) -> Any:
    return source.vm_class(header).create_header_from_parent(header)


def blob_base_fee(source: EvmSource, header: Any) -> int:
    """The blob base fee of ``header``'s block (Cancun on). Hold the lock."""
    state = source.vm_class(header).build_state(
        source.chain.chaindb.db, header, ChainContext(source.chain_id), ()
    )
    return int(state.blob_base_fee)


def _max_blob_gas(source: EvmSource, header: Any) -> int:
    # The bound is a constant of each fork's module (EIP-4844, raised by EIP-7691 in Prague).
    for cls in source.vm_class(header).__mro__:
        module = cls.__module__
        if module.startswith("eth.vm.forks."):
            constants = importlib.import_module(module + ".constants")
            if hasattr(constants, "MAX_BLOB_GAS_PER_BLOCK"):
                return int(constants.MAX_BLOB_GAS_PER_BLOCK)
    return 1


def next_base_fee(source: EvmSource) -> int:
    """The base fee of the block after the head (0 before London). Hold the lock."""
    return int(getattr(_next_header(source, source.head()), "base_fee_per_gas", 0) or 0)


def gas_price(source: EvmSource) -> int:
    """``eth_gasPrice``: the next base fee plus the suggested tip. Hold the lock."""
    return next_base_fee(source) + SUGGESTED_TIP


def _rewards(source: EvmSource, header: Any, percentiles: tuple[float, ...]) -> list[str]:
    block = source.block_of(header)
    if not block.transactions:
        return ["0x0"] * len(percentiles)
    base_fee = int(getattr(header, "base_fee_per_gas", 0) or 0)
    receipts = source.receipts_of(block)
    used, previous = [], 0
    for receipt in receipts:
        used.append(int(receipt.gas_used) - previous)
        previous = int(receipt.gas_used)
    tips = sorted(
        (effective_gas_price(tx, base_fee) - base_fee, gas)
        for tx, gas in zip(block.transactions, used, strict=True)
    )
    total = sum(gas for _, gas in tips) or 1
    rewards, index, cumulative = [], 0, tips[0][1]
    for percentile in percentiles:
        threshold = total * percentile / 100
        while cumulative < threshold and index < len(tips) - 1:
            index += 1
            cumulative += tips[index][1]
        rewards.append(hex(max(0, tips[index][0])))
    return rewards


def fee_history(
    source: EvmSource, count: int, newest: BlockRef, percentiles: tuple[float, ...]
) -> dict[str, Any]:
    """``eth_feeHistory`` over at most ``count`` blocks ending at ``newest``. Hold the lock."""
    last = source.header(newest)
    number = int(last.block_number)
    oldest = max(0, number - count + 1)
    headers = [source.header(BlockRef(number=n)) for n in range(oldest, number)] + [last]
    following = _next_header(source, last)
    result: dict[str, Any] = {
        "oldestBlock": hex(oldest),
        "baseFeePerGas": [
            hex(int(getattr(h, "base_fee_per_gas", 0) or 0)) for h in [*headers, following]
        ],
        "gasUsedRatio": [h.gas_used / h.gas_limit if h.gas_limit else 0.0 for h in headers],
    }
    if hasattr(last, "excess_blob_gas"):
        result["baseFeePerBlobGas"] = [hex(blob_base_fee(source, h)) for h in [*headers, following]]
        result["blobGasUsedRatio"] = [h.blob_gas_used / _max_blob_gas(source, h) for h in headers]
    if percentiles:
        result["reward"] = [_rewards(source, h, percentiles) for h in headers]
    return result


__all__ = ["SUGGESTED_TIP", "blob_base_fee", "fee_history", "gas_price", "next_base_fee"]
