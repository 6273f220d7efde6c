"""JSON Schemas of the answers /rpc gives, written from the ethereum/execution-apis spec.

Source: github.com/ethereum/execution-apis at commit 033ca6e69da000445840d2060ff47e5e56172a86,
``src/schemas/base-types.yaml`` (hex encodings), ``block.yaml`` (``Block``, ``Log``),
``transaction.yaml`` (``TransactionInfo``, the signed transaction types, ``AccessList``,
``AuthorizationList``), ``receipt.yaml`` (``ReceiptInfo``), ``state.yaml`` (``AccountProof``,
``StorageProof``), ``withdrawal.yaml`` and the method results of ``src/eth/*.yaml``. The spec's
``#/components/schemas/X`` references are ``#/$defs/X`` here.

Where the spec leaves an object open (``Block``, ``TransactionInfo``) the schemas here close it
(``unevaluatedProperties: false``), so a stray field (py-evm's ``state_root``, anvil's
``totalDifficulty``) fails: "exactly the spec's fields" is what the tests hold answers to.
Whether a field the spec allows is present per transaction type follows geth, whose answers the
spec's own conformance fixtures (``tests/*/*.io``) record: see :data:`TRANSACTION_KEYS`.
"""

from __future__ import annotations

from typing import Any, Final

import jsonschema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _pattern(pattern: str) -> dict[str, str]:
    return {"type": "string", "pattern": pattern}


_BASE: Final[dict[str, Any]] = {
    # base-types.yaml
    "address": _pattern("^0x[0-9a-fA-F]{40}$"),
    "byte": _pattern("^0x[0-9a-f]{1,2}$"),
    "bytes": _pattern("^0x[0-9a-f]*$"),
    "bytesMax32": _pattern("^0x[0-9a-f]{0,64}$"),
    "bytes8": _pattern("^0x[0-9a-f]{16}$"),
    "bytes32": _pattern("^0x[0-9a-f]{64}$"),
    "bytes256": _pattern("^0x[0-9a-f]{512}$"),
    "ratio": {"type": "number", "minimum": 0, "maximum": 1},
    "uint": _pattern("^0x(0|[1-9a-f][0-9a-f]*)$"),
    "uint64": _pattern("^0x(0|[1-9a-f][0-9a-f]{0,15})$"),
    "uint256": _pattern("^0x(0|[1-9a-f][0-9a-f]{0,63})$"),
    "uintDecimal": _pattern("^(0|[1-9][0-9]*)$"),
    "hash32": _pattern("^0x[0-9a-f]{64}$"),
    "notFound": {"type": "null"},
}

_NULL_OR_ADDRESS: Final = {"oneOf": [{"type": "null"}, _ref("address")]}

_DEFS: Final[dict[str, Any]] = {
    **_BASE,
    # withdrawal.yaml
    "Withdrawal": {
        "type": "object",
        "required": ["index", "validatorIndex", "address", "amount"],
        "additionalProperties": False,
        "properties": {
            "index": _ref("uint64"),
            "validatorIndex": _ref("uint64"),
            "address": _ref("address"),
            "amount": _ref("uint256"),
        },
    },
    # transaction.yaml
    "AccessList": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["address", "storageKeys"],
            "additionalProperties": False,
            "properties": {
                "address": _ref("address"),
                "storageKeys": {"type": "array", "items": _ref("hash32")},
            },
        },
    },
    "AuthorizationList": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["chainId", "nonce", "address", "yParity", "r", "s"],
            "properties": {
                "chainId": _ref("uint"),
                "nonce": _ref("uint"),
                "address": _ref("address"),
                "yParity": _ref("byte"),
                "r": _ref("uint256"),
                "s": _ref("uint256"),
            },
        },
    },
    "TransactionLegacySigned": {
        "type": "object",
        "required": ["type", "nonce", "gas", "value", "input", "gasPrice", "v", "r", "s"],
        "properties": {
            "type": _pattern("^0x0$"),
            "nonce": _ref("uint"),
            "to": _NULL_OR_ADDRESS,
            "gas": _ref("uint"),
            "value": _ref("uint"),
            "input": _ref("bytes"),
            "gasPrice": _ref("uint"),
            "chainId": _ref("uint"),
            "v": _ref("uint"),
            "r": _ref("uint"),
            "s": _ref("uint"),
        },
    },
    "Transaction2930Signed": {
        "type": "object",
        "required": [
            "type", "nonce", "gas", "value", "input", "gasPrice", "chainId", "accessList",
            "yParity", "r", "s",
        ],
        "properties": {
            "type": _pattern("^0x1$"),
            "nonce": _ref("uint"),
            "to": _NULL_OR_ADDRESS,
            "gas": _ref("uint"),
            "value": _ref("uint"),
            "input": _ref("bytes"),
            "gasPrice": _ref("uint"),
            "accessList": _ref("AccessList"),
            "chainId": _ref("uint"),
            "yParity": _ref("byte"),
            "v": _ref("byte"),
            "r": _ref("uint"),
            "s": _ref("uint"),
        },
    },
    "Transaction1559Signed": {
        "type": "object",
        "required": [
            "type", "nonce", "gas", "value", "input", "maxFeePerGas", "maxPriorityFeePerGas",
            "gasPrice", "chainId", "accessList", "yParity", "r", "s",
        ],
        "properties": {
            "type": _pattern("^0x2$"),
            "nonce": _ref("uint"),
            "to": _NULL_OR_ADDRESS,
            "gas": _ref("uint"),
            "value": _ref("uint"),
            "input": _ref("bytes"),
            "maxPriorityFeePerGas": _ref("uint"),
            "maxFeePerGas": _ref("uint"),
            "gasPrice": _ref("uint"),
            "accessList": _ref("AccessList"),
            "chainId": _ref("uint"),
            "yParity": _ref("byte"),
            "v": _ref("byte"),
            "r": _ref("uint"),
            "s": _ref("uint"),
        },
    },
    "Transaction4844Signed": {
        "type": "object",
        "required": [
            "type", "nonce", "to", "gas", "value", "input", "maxPriorityFeePerGas",
            "maxFeePerGas", "maxFeePerBlobGas", "accessList", "blobVersionedHashes", "chainId",
            "yParity", "r", "s",
        ],
        "properties": {
            "type": _pattern("^0x3$"),
            "nonce": _ref("uint"),
            "to": _ref("address"),
            "gas": _ref("uint"),
            "value": _ref("uint"),
            "input": _ref("bytes"),
            "maxPriorityFeePerGas": _ref("uint"),
            "maxFeePerGas": _ref("uint"),
            "maxFeePerBlobGas": _ref("uint"),
            "gasPrice": _ref("uint"),
            "accessList": _ref("AccessList"),
            "blobVersionedHashes": {"type": "array", "items": _ref("hash32")},
            "chainId": _ref("uint"),
            "yParity": _ref("byte"),
            "v": _ref("byte"),
            "r": _ref("uint"),
            "s": _ref("uint"),
        },
    },
    "Transaction7702Signed": {
        "type": "object",
        "required": [
            "type", "nonce", "to", "gas", "value", "input", "maxPriorityFeePerGas",
            "maxFeePerGas", "accessList", "chainId", "authorizationList", "yParity", "r", "s",
        ],
        "properties": {
            "type": _pattern("^0x4$"),
            "nonce": _ref("uint"),
            "to": _ref("address"),
            "gas": _ref("uint"),
            "value": _ref("uint"),
            "input": _ref("bytes"),
            "maxPriorityFeePerGas": _ref("uint"),
            "maxFeePerGas": _ref("uint"),
            "gasPrice": _ref("uint"),
            "accessList": _ref("AccessList"),
            "chainId": _ref("uint"),
            "authorizationList": _ref("AuthorizationList"),
            "yParity": _ref("byte"),
            "v": _ref("byte"),
            "r": _ref("uint"),
            "s": _ref("uint"),
        },
    },
    "TransactionInfo": {
        "type": "object",
        "allOf": [
            {
                "required": [
                    "blockHash", "blockNumber", "blockTimestamp", "from", "hash",
                    "transactionIndex",
                ],
                "properties": {
                    "blockHash": _ref("hash32"),
                    "blockNumber": _ref("uint"),
                    "blockTimestamp": _ref("uint"),
                    "from": _ref("address"),
                    "hash": _ref("hash32"),
                    "transactionIndex": _ref("uint"),
                },
            },
            {
                "oneOf": [
                    _ref("Transaction7702Signed"),
                    _ref("Transaction4844Signed"),
                    _ref("Transaction1559Signed"),
                    _ref("Transaction2930Signed"),
                    _ref("TransactionLegacySigned"),
                ]
            },
        ],
        "unevaluatedProperties": False,
    },
    # block.yaml
    "Block": {
        "type": "object",
        "required": [
            "hash", "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot",
            "receiptsRoot", "logsBloom", "number", "gasLimit", "gasUsed", "timestamp",
            "extraData", "mixHash", "nonce", "size", "transactions", "uncles",
        ],
        "properties": {
            "hash": _ref("hash32"),
            "parentHash": _ref("hash32"),
            "sha3Uncles": _ref("hash32"),
            "miner": _ref("address"),
            "stateRoot": _ref("hash32"),
            "transactionsRoot": _ref("hash32"),
            "receiptsRoot": _ref("hash32"),
            "logsBloom": _ref("bytes256"),
            "difficulty": _ref("uint"),
            "number": _ref("uint"),
            "gasLimit": _ref("uint"),
            "gasUsed": _ref("uint"),
            "timestamp": _ref("uint"),
            "extraData": _ref("bytes"),
            "mixHash": _ref("hash32"),
            "nonce": _ref("bytes8"),
            "baseFeePerGas": _ref("uint"),
            "withdrawalsRoot": _ref("hash32"),
            "blobGasUsed": _ref("uint"),
            "excessBlobGas": _ref("uint"),
            "parentBeaconBlockRoot": _ref("hash32"),
            "size": _ref("uint"),
            "transactions": {
                "anyOf": [
                    {"type": "array", "items": _ref("hash32")},
                    {"type": "array", "items": _ref("TransactionInfo")},
                ]
            },
            "withdrawals": {"type": "array", "items": _ref("Withdrawal")},
            "uncles": {"type": "array", "items": _ref("hash32")},
            "requestsHash": _ref("hash32"),
            "blockAccessListHash": _ref("hash32"),
        },
        "unevaluatedProperties": False,
    },
    "Log": {
        "type": "object",
        "required": ["transactionHash"],
        "additionalProperties": False,
        "properties": {
            "removed": {"type": "boolean"},
            "logIndex": _ref("uint"),
            "transactionIndex": _ref("uint"),
            "transactionHash": _ref("hash32"),
            "blockHash": _ref("hash32"),
            "blockNumber": _ref("uint"),
            "blockTimestamp": _ref("uint"),
            "address": _ref("address"),
            "data": _ref("bytes"),
            "topics": {"type": "array", "items": _ref("bytes32")},
        },
    },
    # receipt.yaml
    "ReceiptInfo": {
        "type": "object",
        "required": [
            "blockHash", "blockNumber", "from", "cumulativeGasUsed", "gasUsed", "logs",
            "logsBloom", "transactionHash", "transactionIndex", "effectiveGasPrice",
        ],
        "additionalProperties": False,
        "properties": {
            "type": _ref("byte"),
            "transactionHash": _ref("hash32"),
            "transactionIndex": _ref("uint"),
            "blockHash": _ref("hash32"),
            "blockNumber": _ref("uint"),
            "from": _ref("address"),
            "to": _NULL_OR_ADDRESS,
            "cumulativeGasUsed": _ref("uint"),
            "gasUsed": _ref("uint"),
            "blobGasUsed": _ref("uint"),
            "contractAddress": _NULL_OR_ADDRESS,
            "logs": {"type": "array", "items": _ref("Log")},
            "logsBloom": _ref("bytes256"),
            "root": _ref("hash32"),
            "status": _ref("uint"),
            "effectiveGasPrice": _ref("uint"),
            "blobGasPrice": _ref("uint"),
        },
    },
    # state.yaml
    "StorageProof": {
        "type": "object",
        "required": ["key", "value", "proof"],
        "additionalProperties": False,
        "properties": {
            "key": _ref("bytesMax32"),
            "value": _ref("uint256"),
            "proof": {"type": "array", "items": _ref("bytes")},
        },
    },
    "AccountProof": {
        "type": "object",
        "required": [
            "address", "accountProof", "balance", "codeHash", "nonce", "storageHash",
            "storageProof",
        ],
        "additionalProperties": False,
        "properties": {
            "address": _ref("address"),
            "accountProof": {"type": "array", "items": _ref("bytes")},
            "balance": _ref("uint256"),
            "codeHash": _ref("hash32"),
            "nonce": _ref("uint64"),
            "storageHash": _ref("hash32"),
            "storageProof": {"type": "array", "items": _ref("StorageProof")},
        },
    },
    # fee_market.yaml, eth_feeHistory's result
    "FeeHistory": {
        "type": "object",
        "required": ["oldestBlock", "baseFeePerGas", "gasUsedRatio"],
        "additionalProperties": False,
        "properties": {
            "oldestBlock": _ref("uint"),
            "baseFeePerGas": {"type": "array", "items": _ref("uint")},
            "baseFeePerBlobGas": {"type": "array", "items": _ref("uint")},
            "gasUsedRatio": {"type": "array", "items": _ref("ratio")},
            "blobGasUsedRatio": {"type": "array", "items": _ref("ratio")},
            "reward": {"type": "array", "items": {"type": "array", "items": _ref("uint")}},
        },
    },
}  # fmt: skip


def _maybe(name: str) -> dict[str, Any]:
    return {"oneOf": [_ref("notFound"), _ref(name)]}


#: The result schema of every method /rpc serves (src/eth/*.yaml; ``web3_clientVersion`` is
#: outside the eth namespace the spec covers: any string).
RESULTS: Final[dict[str, dict[str, Any]]] = {
    "eth_chainId": _ref("uint"),
    "net_version": _ref("uintDecimal"),
    "web3_clientVersion": {"type": "string"},
    "eth_blockNumber": _ref("uint"),
    "eth_gasPrice": _ref("uint"),
    "eth_maxPriorityFeePerGas": _ref("uint"),
    "eth_getBlockByNumber": _maybe("Block"),
    "eth_getBlockByHash": _maybe("Block"),
    "eth_getTransactionByHash": _maybe("TransactionInfo"),
    "eth_getTransactionReceipt": _maybe("ReceiptInfo"),
    "eth_getLogs": {"type": "array", "items": _ref("Log")},
    "eth_call": _ref("bytes"),
    "eth_getCode": _ref("bytes"),
    "eth_getStorageAt": _ref("bytes"),
    "eth_getBalance": _ref("uint"),
    "eth_getTransactionCount": _ref("uint"),
    "eth_getProof": _ref("AccountProof"),
    "eth_feeHistory": _ref("FeeHistory"),
}

#: Keys of a mined transaction by type, as geth answers (the spec fixtures
#: ``tests/eth_getTransactionByHash/get-{legacy-tx,access-list,dynamic-fee,setcode-tx}.io``):
#: a legacy transaction has ``chainId`` when EIP-155 signed; typed ones also carry ``v``.
_CONTEXT: Final = {"blockHash", "blockNumber", "blockTimestamp", "from", "hash", "transactionIndex"}
_COMMON: Final = _CONTEXT | {"type", "nonce", "gas", "value", "input", "to", "gasPrice", "r", "s"}
TRANSACTION_KEYS: Final[dict[str, set[str]]] = {
    "0x0": _COMMON | {"v", "chainId"},
    "0x1": _COMMON | {"chainId", "accessList", "v", "yParity"},
    "0x2": _COMMON
    | {"chainId", "accessList", "v", "yParity", "maxFeePerGas", "maxPriorityFeePerGas"},
    "0x4": _COMMON
    | {
        "chainId", "accessList", "v", "yParity", "maxFeePerGas", "maxPriorityFeePerGas",
        "authorizationList",
    },
}  # fmt: skip
#: Keys of a receipt of a non-blob transaction after Byzantium (the spec fixtures
#: ``tests/eth_getTransactionReceipt/*.io``).
RECEIPT_KEYS: Final = {
    "type", "transactionHash", "transactionIndex", "blockHash", "blockNumber", "from", "to",
    "cumulativeGasUsed", "gasUsed", "contractAddress", "logs", "logsBloom", "status",
    "effectiveGasPrice",
}  # fmt: skip


#: What anvil 1.7.1 adds to the spec's objects (geth, in the spec's fixtures, sends none of it):
#: the pre-merge ``totalDifficulty`` on blocks; ``blockTimestamp`` (as a JSON number) and
#: ``blobGasPrice`` on every receipt, blob transaction or not. /rpc passes a node's answers
#: through as they are; tests that check a forwarded answer against the spec drop these first.
ANVIL_EXTRAS: Final[dict[str, frozenset[str]]] = {
    "Block": frozenset({"totalDifficulty"}),
    "ReceiptInfo": frozenset({"blockTimestamp", "blobGasPrice"}),
}


def without_anvil_extras(method: str, result: Any) -> Any:
    """``result`` with :data:`ANVIL_EXTRAS` removed from its blocks and receipts."""
    kind = {
        "eth_getBlockByNumber": "Block",
        "eth_getBlockByHash": "Block",
        "eth_getTransactionReceipt": "ReceiptInfo",
    }.get(method)
    if kind is None or not isinstance(result, dict):
        return result
    return {key: value for key, value in result.items() if key not in ANVIL_EXTRAS[kind]}


def validate(method: str, result: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``result`` is a valid answer to ``method``."""
    schema = {"$defs": _DEFS, **RESULTS[method]}
    jsonschema.Draft202012Validator(schema).validate(result)


def validate_as(name: str, value: Any) -> None:
    """Validate ``value`` against one spec schema (``"Block"``, ``"Log"``…)."""
    jsonschema.Draft202012Validator({"$defs": _DEFS, **_ref(name)}).validate(value)


__all__ = [
    "ANVIL_EXTRAS",
    "RECEIPT_KEYS",
    "RESULTS",
    "TRANSACTION_KEYS",
    "validate",
    "validate_as",
    "without_anvil_extras",
]
