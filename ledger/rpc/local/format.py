"""py-evm's blocks, transactions, receipts and logs in the JSON of ethereum/execution-apis.

Field names, hex encodings and which fields appear for which transaction type follow
``src/schemas/block.yaml``, ``transaction.yaml`` (``TransactionInfo``, the signed types) and
``receipt.yaml`` of the spec, with geth's answers (the spec's conformance fixtures) deciding what
the schemas leave open: a legacy transaction carries ``chainId`` only when EIP-155 signed, a
typed one carries ``v`` equal to ``yParity``, and logs carry ``blockTimestamp``. Receipts carry
``logsBloom``, ``type`` and ``effectiveGasPrice``, and ``status``, never py-evm's ``state_root``.

Quantities are minimal hex (``0x0``), data is even-length lower-case hex, a bloom is its 256
bytes (512 hex digits), not a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import rlp  # type: ignore[import-untyped]
from eth._utils.address import generate_contract_address

#: Transaction type numbers (EIP-2718).
LEGACY: Final = 0
ACCESS_LIST: Final = 1
DYNAMIC_FEE: Final = 2
BLOB: Final = 3
SET_CODE: Final = 4


def quantity(number: int) -> str:
    return hex(number)


def data(raw: bytes) -> str:
    return "0x" + bytes(raw).hex()


def word(number: int, size: int = 32) -> str:
    """A fixed-size big-endian value (hash, bloom, topic) from py-evm's int form."""
    return "0x" + number.to_bytes(size, "big").hex()


def tx_type(tx: Any) -> int:
    type_id = getattr(tx, "type_id", None)
    return LEGACY if type_id is None else int(type_id)


def effective_gas_price(tx: Any, base_fee: int | None) -> int:
    """What a mined transaction paid per gas: its gas price, or after EIP-1559 the base fee
    plus the tip the fee cap leaves room for."""
    if tx_type(tx) in (LEGACY, ACCESS_LIST) or base_fee is None:
        return int(tx.gas_price)
    return min(int(tx.max_fee_per_gas), base_fee + int(tx.max_priority_fee_per_gas))


def _access_list(tx: Any) -> list[dict[str, Any]]:
    return [
        {"address": data(address), "storageKeys": [word(int(key)) for key in keys]}
        for address, keys in tx.access_list
    ]


def _authorizations(tx: Any) -> list[dict[str, Any]]:
    return [
        {
            "chainId": quantity(auth.chain_id),
            "address": data(auth.address),
            "nonce": quantity(auth.nonce),
            "yParity": quantity(auth.y_parity),
            "r": quantity(auth.r),
            "s": quantity(auth.s),
        }
        for auth in tx.authorization_list
    ]


def format_transaction(tx: Any, header: Any, index: int) -> dict[str, Any]:
    """``TransactionInfo``: a mined transaction with its block context."""
    kind = tx_type(tx)
    base_fee = getattr(header, "base_fee_per_gas", None)
    info: dict[str, Any] = {
        "blockHash": data(header.hash),
        "blockNumber": quantity(header.block_number),
        "blockTimestamp": quantity(header.timestamp),
        "from": data(tx.sender),
        "gas": quantity(tx.gas),
        "gasPrice": quantity(effective_gas_price(tx, base_fee)),
        "hash": data(tx.hash),
        "input": data(tx.data),
        "nonce": quantity(tx.nonce),
        "to": data(tx.to) if tx.to else None,
        "transactionIndex": quantity(index),
        "value": quantity(tx.value),
        "type": quantity(kind),
    }
    if kind == LEGACY:
        if tx.chain_id is not None:  # EIP-155 signed; a pre-EIP-155 signature has no chain id
            info["chainId"] = quantity(tx.chain_id)
        info.update(v=quantity(tx.v), r=quantity(tx.r), s=quantity(tx.s))
        return info
    info["chainId"] = quantity(tx.chain_id)
    info["accessList"] = _access_list(tx)
    if kind != ACCESS_LIST:
        info["maxFeePerGas"] = quantity(tx.max_fee_per_gas)
        info["maxPriorityFeePerGas"] = quantity(tx.max_priority_fee_per_gas)
    if kind == BLOB:
        info["maxFeePerBlobGas"] = quantity(tx.max_fee_per_blob_gas)
        info["blobVersionedHashes"] = [data(h) for h in tx.blob_versioned_hashes]
    if kind == SET_CODE:
        info["authorizationList"] = _authorizations(tx)
    # Typed transactions sign with y-parity; v is kept, equal to it, for older clients.
    parity = quantity(tx.y_parity)
    info.update(v=parity, r=quantity(tx.r), s=quantity(tx.s), yParity=parity)
    return info


def format_log(
    entry: Any, header: Any, tx_hash: bytes, tx_index: int, log_index: int
) -> dict[str, Any]:
    """``Log``: one log of a mined transaction."""
    return {
        "address": data(entry.address),
        "topics": [word(topic) for topic in entry.topics],
        "data": data(entry.data),
        "blockNumber": quantity(header.block_number),
        "blockHash": data(header.hash),
        "blockTimestamp": quantity(header.timestamp),
        "transactionHash": data(tx_hash),
        "transactionIndex": quantity(tx_index),
        "logIndex": quantity(log_index),
        "removed": False,
    }


def format_receipt(
    block: Any, receipts: Sequence[Any], index: int, *, blob_base_fee: int | None = None
) -> dict[str, Any]:
    """``ReceiptInfo`` of the ``index``-th transaction of ``block``."""
    header = block.header
    tx = block.transactions[index]
    this = receipts[index]
    cumulative = int(this.gas_used)  # py-evm's receipt gas is the block's running total
    before = int(receipts[index - 1].gas_used) if index else 0
    first_log = sum(len(r.logs) for r in receipts[:index])
    sender = tx.sender
    info: dict[str, Any] = {
        "type": quantity(tx_type(tx)),
        "transactionHash": data(tx.hash),
        "transactionIndex": quantity(index),
        "blockHash": data(header.hash),
        "blockNumber": quantity(header.block_number),
        "from": data(sender),
        "to": data(tx.to) if tx.to else None,
        "cumulativeGasUsed": quantity(cumulative),
        "gasUsed": quantity(cumulative - before),
        "contractAddress": None
        if tx.to
        else data(generate_contract_address(sender, int(tx.nonce))),
        "logs": [
            format_log(entry, header, tx.hash, index, first_log + i)
            for i, entry in enumerate(this.logs)
        ],
        "logsBloom": word(int(this.bloom), 256),
        "effectiveGasPrice": quantity(
            effective_gas_price(tx, getattr(header, "base_fee_per_gas", None))
        ),
    }
    # After Byzantium py-evm keeps the status (b"\x01" or b"") where the state root used to be.
    root = bytes(this.state_root)
    if len(root) == 32:
        info["root"] = data(root)
    else:
        info["status"] = quantity(1 if root == b"\x01" else 0)
    if tx_type(tx) == BLOB:
        info["blobGasUsed"] = quantity(131_072 * len(tx.blob_versioned_hashes))
        if blob_base_fee is not None:
            info["blobGasPrice"] = quantity(blob_base_fee)
    return info


_HEADER_FIELDS: Final = (
    # (JSON name, py-evm attribute, encoder) for the fields every header has.
    ("parentHash", "parent_hash", data),
    ("sha3Uncles", "uncles_hash", data),
    ("miner", "coinbase", data),
    ("stateRoot", "state_root", data),
    ("transactionsRoot", "transaction_root", data),
    ("receiptsRoot", "receipt_root", data),
    ("difficulty", "difficulty", quantity),
    ("number", "block_number", quantity),
    ("gasLimit", "gas_limit", quantity),
    ("gasUsed", "gas_used", quantity),
    ("timestamp", "timestamp", quantity),
    ("extraData", "extra_data", data),
    ("mixHash", "mix_hash", data),
)
_FORK_FIELDS: Final = (
    # Fields later forks added to the header, present only on headers that have them.
    ("baseFeePerGas", "base_fee_per_gas", quantity),
    ("withdrawalsRoot", "withdrawals_root", data),
    ("blobGasUsed", "blob_gas_used", quantity),
    ("excessBlobGas", "excess_blob_gas", quantity),
    ("parentBeaconBlockRoot", "parent_beacon_block_root", data),
    ("requestsHash", "requests_hash", data),
)


def format_block(block: Any, *, hydrated: bool) -> dict[str, Any]:
    """``Block``: header fields, size, uncles, withdrawals, and the transactions as hashes or
    (``hydrated``) as ``TransactionInfo`` objects."""
    header = block.header
    info: dict[str, Any] = {"hash": data(header.hash)}
    for name, attribute, encode in _HEADER_FIELDS:
        info[name] = encode(getattr(header, attribute))
    info["logsBloom"] = word(int(header.bloom), 256)
    info["nonce"] = data(header.nonce)
    field_names = set(type(header)._meta.field_names)
    for name, attribute, encode in _FORK_FIELDS:
        if attribute in field_names:
            info[name] = encode(getattr(header, attribute))
    info["size"] = quantity(len(rlp.encode(block)))
    info["uncles"] = [data(uncle.hash) for uncle in block.uncles]
    if hydrated:
        info["transactions"] = [
            format_transaction(tx, header, i) for i, tx in enumerate(block.transactions)
        ]
    else:
        info["transactions"] = [data(tx.hash) for tx in block.transactions]
    if "withdrawals_root" in field_names:
        info["withdrawals"] = [
            {
                "index": quantity(w.index),
                "validatorIndex": quantity(w.validator_index),
                "address": data(w.address),
                "amount": quantity(w.amount),
            }
            for w in block.withdrawals
        ]
    return info


__all__ = [
    "data",
    "effective_gas_price",
    "format_block",
    "format_log",
    "format_receipt",
    "format_transaction",
    "quantity",
    "tx_type",
    "word",
]
