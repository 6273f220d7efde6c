"""Which methods ``/rpc`` serves, what their parameters are, and why others are refused.

Pure code (no web3). :func:`parse_call` turns a method name and its raw ``params`` into a
:class:`MethodCall` whose arguments are typed and validated (see :mod:`ledger.rpc.params`), or
raises ``RpcMethodNotFoundError`` / ``RpcInvalidParamsError``. The parameter lists follow the
``src/eth/*.yaml`` method definitions of ethereum/execution-apis; optional trailing block
arguments default to ``latest``, as on every node.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ledger.errors import RpcInvalidParamsError, RpcMethodNotFoundError
from ledger.rpc.call_params import parse_call_request
from ledger.rpc.filter_params import parse_log_filter
from ledger.rpc.params import (
    LATEST,
    StorageKey,
    describe,
    invalid,
    parse_address,
    parse_array,
    parse_block_id,
    parse_block_number_or_tag,
    parse_bool,
    parse_count,
    parse_hash,
    parse_storage_key,
)

#: Most blocks one ``eth_feeHistory`` may cover (geth's bound as well).
MAX_FEE_HISTORY_BLOCKS: Final = 1_024
#: Most reward percentiles per ``eth_feeHistory``, and most storage keys per ``eth_getProof``.
MAX_PERCENTILES: Final = 100
MAX_PROOF_KEYS: Final = 1_000

Parser = Callable[[Any, str], Any]


@dataclass(frozen=True, slots=True)
class Param:
    """One positional parameter: its name (for messages), its parser, and its default when it
    may be left out (``required`` False)."""

    name: str
    parse: Parser
    required: bool = True
    default: Any = None


@dataclass(frozen=True, slots=True)
class MethodCall:
    """A method with validated, typed arguments (in the order of its parameters)."""

    method: str
    args: tuple[Any, ...]

    def wire_params(self) -> list[Any]:
        """The arguments re-encoded in canonical JSON-RPC form: what is forwarded to a node is
        what was validated here, never the client's original text."""
        return [_wire(arg) for arg in self.args]


def _wire(value: Any) -> Any:
    if hasattr(value, "to_wire"):  # BlockRef, CallRequest, LogFilter
        return value.to_wire()
    if isinstance(value, StorageKey):
        return "0x" + value.slot.to_bytes(32, "big").hex()  # every node reads a full word
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, tuple):
        return [_wire(item) for item in value]
    return value  # floats (reward percentiles)


def _percentiles(value: Any, where: str) -> tuple[float, ...]:
    if value is None:
        return ()
    percentiles = parse_array(
        value, where, maximum=MAX_PERCENTILES, items="percentiles", expected="an array of numbers"
    )
    result: list[float] = []
    for i, item in enumerate(percentiles):
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise invalid(f"{where}[{i}]", f"expected a number, got {describe(item)}")
        if not 0 <= item <= 100:
            raise invalid(f"{where}[{i}]", f"a percentile is between 0 and 100, got {item}")
        if result and item < result[-1]:
            raise invalid(f"{where}[{i}]", "percentiles must be in increasing order")
        result.append(float(item))
    return tuple(result)


def _storage_keys(value: Any, where: str) -> tuple[Any, ...]:
    keys = parse_array(value, where, maximum=MAX_PROOF_KEYS, items="storage keys")
    return tuple(parse_storage_key(key, f"{where}[{i}]") for i, key in enumerate(keys))


def _fee_history_count(value: Any, where: str) -> int:
    return parse_count(value, where, maximum=MAX_FEE_HISTORY_BLOCKS)


def _block_or_tag(value: Any, where: str) -> Any:
    return parse_block_number_or_tag(value, where)


_BLOCK = Param("block", parse_block_id, required=False, default=LATEST)

#: Every method served, with its parameters.
METHODS: Final[dict[str, tuple[Param, ...]]] = {
    "eth_chainId": (),
    "net_version": (),
    "web3_clientVersion": (),
    "eth_blockNumber": (),
    "eth_gasPrice": (),
    "eth_maxPriorityFeePerGas": (),
    "eth_getBlockByNumber": (Param("block", _block_or_tag), Param("hydrated", parse_bool)),
    "eth_getBlockByHash": (Param("block hash", parse_hash), Param("hydrated", parse_bool)),
    "eth_getTransactionByHash": (Param("transaction hash", parse_hash),),
    "eth_getTransactionReceipt": (Param("transaction hash", parse_hash),),
    "eth_getLogs": (Param("filter", parse_log_filter),),
    "eth_call": (Param("transaction", parse_call_request), _BLOCK),
    "eth_getCode": (Param("address", parse_address), _BLOCK),
    "eth_getStorageAt": (
        Param("address", parse_address),
        Param("storage slot", parse_storage_key),
        _BLOCK,
    ),
    "eth_getBalance": (Param("address", parse_address), _BLOCK),
    "eth_getTransactionCount": (Param("address", parse_address), _BLOCK),
    "eth_getProof": (
        Param("address", parse_address),
        Param("storage keys", _storage_keys),
        _BLOCK,
    ),
    "eth_feeHistory": (
        Param("block count", _fee_history_count),
        Param("newest block", _block_or_tag),
        Param("reward percentiles", _percentiles, required=False, default=()),
    ),
}

#: Methods that run EVM code (the rest only read stored data).
EVM_METHODS: Final = frozenset({"eth_call"})

# Why a method is refused, by name prefix (first match wins) or exact name.
_WRITES: Final = frozenset(
    {
        "eth_sendRawTransaction",
        "eth_sendTransaction",
        "eth_sign",
        "eth_signTransaction",
        "eth_signTypedData",
        "eth_signTypedData_v3",
        "eth_signTypedData_v4",
        "eth_accounts",
        "eth_coinbase",
    }
)
_FILTERS: Final = frozenset(
    {
        "eth_newFilter",
        "eth_newBlockFilter",
        "eth_newPendingTransactionFilter",
        "eth_getFilterChanges",
        "eth_getFilterLogs",
        "eth_uninstallFilter",
        "eth_subscribe",
        "eth_unsubscribe",
    }
)
_REFUSED_PREFIXES: Final = (
    ("personal_", "accounts and signing are not served here"),
    ("debug_", "debugging and tracing are not served here"),
    ("trace_", "debugging and tracing are not served here"),
    ("admin_", "node administration is not served here"),
    ("txpool_", "there is no public transaction pool here"),
    ("engine_", "the engine API is not served here"),
    ("miner_", "mining and chain manipulation are not served here"),
    ("evm_", "mining and chain manipulation are not served here"),
    ("anvil_", "mining and chain manipulation are not served here"),
    ("hardhat_", "mining and chain manipulation are not served here"),
    ("ganache_", "mining and chain manipulation are not served here"),
)
_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def refusal(method: str) -> RpcMethodNotFoundError:
    """The error for a method that is not served, saying why when the reason is known."""
    if _NAME.fullmatch(method) is None:
        return RpcMethodNotFoundError("the method does not exist/is not available")
    base = f"the method {method} does not exist/is not available"
    if method in _WRITES:
        reason = "this endpoint is read-only; writes go through the provledger API"
    elif method in _FILTERS:
        reason = "filters and subscriptions keep server state; use eth_getLogs"
    elif method in ("eth_mining", "eth_hashrate", "eth_submitWork", "eth_submitHashrate"):
        reason = "mining and chain manipulation are not served here"
    else:
        reason = next((why for prefix, why in _REFUSED_PREFIXES if method.startswith(prefix)), "")
    return RpcMethodNotFoundError(f"{base}: {reason}" if reason else base)


def parse_call(method: str, params: Any) -> MethodCall:
    """Validate ``params`` (a JSON array, or absent as ``None``) for ``method``."""
    signature = METHODS.get(method)
    if signature is None:
        raise refusal(method)
    if params is None:
        params = []
    if isinstance(params, dict):
        raise RpcInvalidParamsError(
            f"invalid params: {method} takes its params as an array (by position), not an object"
        )
    if len(params) > len(signature):
        raise RpcInvalidParamsError(
            f"invalid params: {method} takes at most {len(signature)} params, got {len(params)}"
        )
    args = []
    for index, param in enumerate(signature):
        where = f"{method} param {index} ({param.name})"
        if index >= len(params) or (params[index] is None and not param.required):
            if param.required:
                raise RpcInvalidParamsError(f"invalid params: {where} is missing")
            args.append(param.default)
        else:
            args.append(param.parse(params[index], where))
    return MethodCall(method, tuple(args))


__all__ = [
    "EVM_METHODS",
    "MAX_FEE_HISTORY_BLOCKS",
    "MAX_PERCENTILES",
    "MAX_PROOF_KEYS",
    "METHODS",
    "MethodCall",
    "Param",
    "parse_call",
    "refusal",
]
