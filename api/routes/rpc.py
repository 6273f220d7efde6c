"""A read-only JSON-RPC endpoint onto the service's chain.

On the embedded default the chain lives inside this process; this lets any Ethereum tool —
including ``provledger verify --rpc …/rpc`` — read it directly. Only read methods are served:
writes go through the API, which authenticates and authorises them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_tester.exceptions import TransactionFailed
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    Web3RPCError,
)

from api.deps import RuntimeDep
from ledger.chain.revert import revert_data_from_message

router = APIRouter(tags=["chain"])

READ_METHODS = frozenset(
    {
        "eth_chainId",
        "net_version",
        "web3_clientVersion",
        "eth_blockNumber",
        "eth_getBlockByNumber",
        "eth_getBlockByHash",
        "eth_getTransactionByHash",
        "eth_getTransactionReceipt",
        "eth_getLogs",
        "eth_call",
        "eth_getCode",
        "eth_getBalance",
        "eth_getTransactionCount",
        "eth_getStorageAt",
        "eth_gasPrice",
        "eth_feeHistory",
        "eth_maxPriorityFeePerGas",
    }
)


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def _wire(value: Any) -> Any:
    """JSON-RPC encoding of a provider result. The in-process provider hands back Python values
    (ints, bytes); a node's are already strings, which pass through untouched."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):  # web3's AttributeDict is a Mapping, not a dict
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(item) for item in value]
    return value


def _reverted(request_id: Any, data: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": 3, "message": "execution reverted", "data": data},
    }


def _answer(runtime: RuntimeDep, call: Any) -> dict[str, Any]:
    if not isinstance(call, dict) or call.get("jsonrpc") != "2.0" or "method" not in call:
        return _error(call.get("id") if isinstance(call, dict) else None, -32600, "invalid request")
    method, params, request_id = call["method"], call.get("params", []), call.get("id")
    if method not in READ_METHODS:
        return _error(
            request_id, -32601, f"method {method!r} is not available (read-only endpoint)"
        )
    if method in ("eth_call", "eth_estimateGas") and params and isinstance(params[0], dict):
        # Nodes run a sender-less call as the zero address with no gas cost; the in-process
        # chain wants a sender that can pay, so the service's own (funded) account stands in.
        params = [{"from": runtime.service_account.address, **params[0]}, *params[1:]]
    try:
        # Through web3's request pipeline, so parameters are normalised for any backend.
        result = runtime.chain.w3.manager.request_blocking(method, params)
        response = {"jsonrpc": "2.0", "result": result}
    except TransactionFailed as exc:  # in-process revert: code 3 with the raw data, as nodes do
        raw = revert_data_from_message(str(exc.args[0]) if exc.args else "") or b""
        return _reverted(request_id, "0x" + raw.hex())
    except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:  # a node's revert
        return _reverted(request_id, exc.data if isinstance(exc.data, str) else "0x")
    except Web3RPCError as exc:  # the node's own error object, passed through unchanged
        error = (exc.rpc_response or {}).get("error") or {"code": -32000, "message": str(exc)}
        return {"jsonrpc": "2.0", "id": request_id, "error": error}
    except Exception as exc:  # answer like a node: a JSON-RPC error, never an HTTP 500
        return _error(request_id, -32000, f"{type(exc).__name__}: {exc}")
    if "result" in response:
        response["result"] = _wire(response["result"])
    response["id"] = request_id
    response.setdefault("jsonrpc", "2.0")
    return response


@router.post("/rpc", summary="Read-only JSON-RPC onto the ledger's chain", response_model=None)
async def rpc(request: Request, runtime: RuntimeDep) -> JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse(_error(None, -32700, "parse error"))
    if isinstance(body, list):
        if not body or len(body) > 100:
            return JSONResponse(_error(None, -32600, "a batch holds 1 to 100 calls"))
        return JSONResponse([_answer(runtime, call) for call in body])
    return JSONResponse(_answer(runtime, body))
