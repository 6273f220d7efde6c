"""``eth_call`` on an in-process chain runs in worker processes, bounded in time and gas: an
infinite loop is stopped at the time limit, a batch shares one budget, a call 1,024 frames deep
is answered, a worker that dies is replaced, a full pool answers "busy"."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rpc_harness import GAS_LEFT, INFINITE_LOOP, RECURSIVE_INIT, Activity, Rpc, deploy

from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.rpc import RpcLimits, RpcServer
from ledger.rpc.local.backend import LocalBackend

pytestmark = pytest.mark.usefixtures("in_process")


class Server:
    """A fresh server with its own limits and worker pool, started before the test measures."""

    def __init__(self, chain: Chain, **limits: Any) -> None:
        self.server = RpcServer.for_chain(chain, RpcLimits(**limits))
        assert isinstance(self.server.backend, LocalBackend)
        self.pool = self.server.backend.pool
        self.rpc = Rpc(self.server)
        self.server.warm()
        deadline = time.monotonic() + 60
        while len(self.pool.worker_pids()) < limits.get("evm_workers", 1):
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.02)

    def call(self, call: dict[str, Any], block: Any = "latest") -> dict[str, Any]:
        return self.rpc.response("eth_call", call, block)


@pytest.fixture
def server(chain: Chain, ledger: Ledger, request: pytest.FixtureRequest) -> Iterator[Server]:
    limits = getattr(request, "param", {})
    started = Server(chain, **{"evm_timeout": 2.0, **limits})
    yield started
    started.server.close()


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.monotonic()
    result = fn(*args)
    return result, time.monotonic() - start


def test_an_infinite_loop_is_stopped_at_the_time_limit(server: Server) -> None:
    answer, took = timed(server.call, {"input": INFINITE_LOOP})
    assert answer["error"] == {"code": -32000, "message": "execution aborted (timeout = 2s)"}
    assert 1.9 < took < 3.0
    assert server.call({"input": GAS_LEFT})["result"]  # the same worker answers the next call
    assert server.pool.respawns == 0  # stopped inside the EVM, not killed


def test_a_call_that_waits_for_its_worker_to_start_gets_its_whole_time_budget(
    chain: Chain, ledger: Ledger
) -> None:
    # A budget far shorter than py-evm's import in a fresh worker: the call is queued before any
    # worker exists, and waiting for one to start is not charged to its execution.
    cold = RpcServer.for_chain(chain, RpcLimits(evm_timeout=0.05))
    try:
        started = time.monotonic()
        answer = Rpc(cold).response("eth_call", {"input": GAS_LEFT}, "latest")
        assert answer.get("result"), answer
        assert isinstance(cold.backend, LocalBackend)
        assert time.monotonic() - started > 0.05  # it did wait for the worker
    finally:
        cold.close()


def test_a_batch_shares_one_time_budget(server: Server) -> None:
    loop = {"jsonrpc": "2.0", "method": "eth_call", "params": [{"input": INFINITE_LOOP}]}
    batch = [{**loop, "id": i} for i in range(4)]
    answers, took = timed(server.rpc.raw, batch)
    assert took < 3.0  # one budget of 2 s, not 4 x 2 s
    assert [a["error"]["message"] for a in answers] == ["execution aborted (timeout = 2s)"] * 4


@pytest.mark.parametrize("server", [{"gas_cap": 10**12, "evm_timeout": 30.0}], indirect=True)
def test_a_call_at_the_maximum_call_depth_is_answered(
    server: Server, chain: Chain, activity: Activity
) -> None:
    contract = deploy(chain, activity.sender, RECURSIVE_INIT)
    (pid,) = server.pool.worker_pids()
    answer = server.call({"to": contract, "input": "0x" + "00" * 32})
    # 1,024 nested calls below the top frame: the 1,025th CALL fails on the depth limit.
    assert int(answer["result"], 16) == 1025
    assert server.pool.worker_pids() == [pid]  # the worker survived it
    assert server.call({"to": contract, "input": "0x" + "00" * 32})["result"] == answer["result"]


def test_a_worker_that_dies_is_replaced(server: Server) -> None:
    (pid,) = server.pool.worker_pids()
    answers: list[dict[str, Any]] = []
    caller = threading.Thread(target=lambda: answers.append(server.call({"input": INFINITE_LOOP})))
    caller.start()
    while not server.pool.saturated():
        time.sleep(0.01)
    killed = time.monotonic()
    os.kill(pid, signal.SIGSEGV)  # what a crash in py-evm or the interpreter would look like
    caller.join()
    assert time.monotonic() - killed < 1.0
    (answer,) = answers
    assert answer["error"]["code"] == -32603
    assert "replaced" in answer["error"]["message"]
    deadline = time.monotonic() + 60
    while server.pool.worker_pids() in ([], [pid]):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert server.pool.respawns == 1
    assert server.call({"input": GAS_LEFT})["result"]


@pytest.mark.parametrize("server", [{"gas_cap": 100_000}], indirect=True)
def test_gas_above_the_cap_is_clamped_to_it(server: Server) -> None:
    def gas_left(call: dict[str, Any]) -> int:
        return int(server.call({"input": GAS_LEFT, **call})["result"], 16)

    # The init code sees its gas minus the intrinsic cost of a creation (53,000 + calldata).
    assert 40_000 < gas_left({}) < 100_000 - 53_000
    assert gas_left({"gas": hex(10**9)}) == gas_left({})
    assert gas_left({"gas": hex(80_000)}) < gas_left({})


@pytest.mark.parametrize("server", [{"queue_wait": 0.3, "evm_timeout": 3.0}], indirect=True)
def test_a_full_pool_answers_busy_instead_of_queueing(server: Server) -> None:
    loop = threading.Thread(target=server.call, args=({"input": INFINITE_LOOP},))
    loop.start()
    while not server.pool.saturated():
        time.sleep(0.01)
    answer, took = timed(server.call, {"input": GAS_LEFT})
    loop.join()
    assert answer["error"]["code"] == -32005
    assert "busy" in answer["error"]["message"]
    assert took < 1.0


def test_calls_are_free_unless_priced_like_geth(server: Server) -> None:
    # BASEFEE PUSH1 0 MSTORE GASPRICE PUSH1 32 MSTORE PUSH1 64 PUSH1 0 RETURN
    fees = "0x486000523a60205260406000f3"
    pauper = "0x" + "ab" * 20
    free = server.call({"input": fees, "from": pauper})["result"]
    assert int(free[2:66], 16) == 0 and int(free[66:], 16) == 0  # base fee and price read 0
    priced = server.call({"input": fees, "from": pauper, "maxFeePerGas": hex(10**12)})
    assert priced["error"]["code"] == -32000
    assert priced["error"]["message"].startswith("insufficient funds for gas * price + value")
    assert server.call({"input": fees, "from": "0x" + "00" * 20})["result"] == free
