"""What the /rpc tests share: a client that speaks to an RpcServer as the HTTP route does, the
chain activity the ``activity`` fixture records, and raw EVM programs to call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.chain.backend import Chain
from ledger.rpc import RpcServer
from ledger.rpc.remote import RemoteBackend

#: Runtime code that calls itself with its depth + 1 and returns the deepest depth reached:
#: 1,025 frames when gas allows (EIP-150 keeps 1/64 back at every level, so it takes ~10^12).
RECURSIVE_RUNTIME = "60003560010160005260206000602060006000305af15060206000f3"
RECURSIVE_INIT = "601c80600b6000396000f3" + RECURSIVE_RUNTIME
#: Init code that loops forever: JUMPDEST PUSH1 0 JUMP.
INFINITE_LOOP = "0x5b600056"
#: Init code that returns the gas left when it starts (GAS PUSH1 0 MSTORE PUSH1 32 PUSH1 0
#: RETURN), to see what gas a call was given.
GAS_LEFT = "0x5a60005260206000f3"


async def _offload(fn: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(fn)


class Rpc:
    """Posts bodies to an RpcServer as the /rpc route does, and reads the answers."""

    def __init__(self, server: RpcServer) -> None:
        self.server = server
        #: Whether the answers come from a node (anvil) rather than py-evm read here.
        self.forwarded = isinstance(server.backend, RemoteBackend)

    def raw(self, body: bytes | str | Any) -> Any:
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        answer = asyncio.run(self.server.answer(body, _offload))
        return None if answer is None else json.loads(answer)

    def response(self, method: str, *params: Any) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        answer: dict[str, Any] = self.raw(body)
        return answer

    def __call__(self, method: str, *params: Any) -> Any:
        answer = self.response(method, *params)
        assert "result" in answer, answer
        return answer["result"]

    def error(self, method: str, *params: Any) -> dict[str, Any]:
        answer = self.response(method, *params)
        assert "error" in answer, answer
        error: dict[str, Any] = answer["error"]
        return error


@dataclass(frozen=True)
class Activity:
    """What the activity fixture put on chain."""

    registry: str
    dataset_id: bytes
    content_hash: bytes
    created_tx: str
    created_block: int
    transactions: dict[str, str]  # type ("0x0"…) -> hash
    sender: LocalAccount


def deploy(chain: Chain, sender: LocalAccount, init_code: str) -> str:
    """Deploy raw init code; the new contract's address."""
    tx = {
        "data": "0x" + init_code.removeprefix("0x"),
        "gas": 300_000,
        "chainId": chain.chain_id,
        "nonce": chain.w3.eth.get_transaction_count(sender.address),
        "gasPrice": 2 * int(chain.w3.eth.get_block("latest")["baseFeePerGas"]) + 10**9,
    }
    address = chain.send_signed(sender, tx).contract_address
    assert address is not None
    return str(address)
