"""The relayer over JSON-RPC: batches over plain HTTP to a real anvil, and the fallback to one
request at a time for a node that refuses batches.

Runs its own anvil whatever ``--chain`` says (this is the HTTP path). A small forwarding proxy
in front of it records what the relayer sends, and can play a node without batch support.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy.engine import Engine

from ledger.chain.anvil import AnvilNode
from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.db import create_tables, make_engine
from ledger.relayer import OperationStatus, Relayer
from tests.ledger.relayer.rows import (
    DEPT_A,
    custody,
    ops,
    queue_versions,
)


@dataclass
class Proxy:
    """Forwards JSON-RPC to ``upstream``; notes each POST as a method name or a list of them."""

    upstream: str
    refuse_batches: bool = False
    seen: list[str | list[str]] = field(default_factory=list)
    url: str = ""

    def batches(self, method: str) -> list[int]:
        """Sizes of the batches that carried ``method``."""
        return [len(s) for s in self.seen if isinstance(s, list) and method in s]

    def singles(self, method: str) -> int:
        return sum(1 for s in self.seen if s == method)


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode() as node:
        yield node


@pytest.fixture(scope="module")
def deployed(anvil: AnvilNode) -> tuple[Ledger, Any]:
    chain = Chain.rpc(anvil.url, expected_chain_id=anvil.chain_id)

    def key(name: str) -> LocalAccount:
        account: LocalAccount = Account.from_key(keccak(text=f"provledger-test:batched:{name}"))
        chain.fund(account.address, 10**21)
        return account

    people = _People(governance=key("governance"), dept_a=key("a"))
    ledger = Ledger.deploy(chain, people.governance)
    ledger.departments.enrol_department(
        DEPT_A, "Department of Health", people.dept_a.address, sender=people.governance
    )
    return ledger, people


@dataclass(frozen=True)
class _People:
    governance: LocalAccount
    dept_a: LocalAccount


@pytest.fixture
def proxy(anvil: AnvilNode) -> Iterator[Proxy]:
    state = Proxy(upstream=anvil.url)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if isinstance(body, list):
                state.seen.append([r["method"] for r in body])
                if state.refuse_batches:  # as geth does with batching switched off
                    error = {"code": -32600, "message": "batch requests are not supported"}
                    return self._answer({"jsonrpc": "2.0", "id": None, "error": error})
            else:
                state.seen.append(body["method"])
            answer = requests.post(state.upstream, json=body, timeout=30).json()
            self._answer(answer)

        def _answer(self, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def through_proxy(
    deployed: tuple[Ledger, Any], proxy: Proxy, tmp_path: Path
) -> Iterator[tuple[Ledger, Any, Engine]]:
    ledger, people = deployed
    chain = Chain.rpc(proxy.url)
    snapshot = chain.snapshot()
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    create_tables(engine)
    yield Ledger(chain, ledger.deployment), people, engine
    engine.dispose()
    chain.revert(snapshot)


def settle(relayer: Relayer, engine: Engine, seconds: float = 30.0) -> None:
    """Tick until nothing is pending or submitted (bounded: a loaded machine mines slowly).

    Anvil answers the elements of a JSON-RPC batch concurrently, so a transaction may reach its
    pool before the one with the nonce below it and be queued as a future nonce; in automine
    mode anvil then never promotes it, even once the gap is filled and blocks are mined (seen:
    100 queued, 0 pending, about one run in five, on the commit before this one too). A node
    that holds a transaction it will not mine is a node that lost it: after a few seconds with
    nothing settling, the pool is emptied, and the relayer sends again what the node no longer
    knows, in nonce order, as it must after any node restart."""
    deadline = time.monotonic() + seconds
    last_progress, settled_before = time.monotonic(), -1
    while time.monotonic() < deadline:
        relayer.tick()
        unsettled = sum(op.status in ("pending", "submitted") for op in ops(engine))
        if not unsettled:
            return
        if unsettled != settled_before:
            last_progress, settled_before = time.monotonic(), unsettled
        elif time.monotonic() - last_progress > 3 and not relayer.ledger.chain.is_in_process:
            relayer.ledger.chain._rpc("anvil_dropAllTransactions", [])
            last_progress = time.monotonic()
        time.sleep(0.05)


def _relayer(ledger: Ledger, people: Any, engine: Engine, **options: int) -> Relayer:
    keys = custody({DEPT_A: [people.dept_a]})
    return Relayer(ledger=ledger, engine=engine, account=people.governance, keys=keys, **options)


def test_sends_and_receipts_go_in_json_rpc_batches(
    through_proxy: tuple[Ledger, Any, Engine], proxy: Proxy
) -> None:
    ledger, people, engine = through_proxy
    dataset_id = queue_versions(engine, ledger, people, "http-batched", 120)
    relayer = _relayer(ledger, people, engine, batch=120, rpc_batch=50)
    proxy.seen.clear()

    report = relayer.tick()
    settle(relayer, engine)  # anvil may still be mining the last ones when receipts are asked

    assert report.sent == 120
    assert [op.status for op in ops(engine)] == [OperationStatus.CONFIRMED] * 120
    assert relayer.transport.batched
    assert proxy.batches("eth_sendRawTransaction")[:3] == [50, 50, 20]
    assert proxy.batches("eth_getTransactionReceipt")[:3] == [50, 50, 20]
    assert proxy.singles("eth_sendRawTransaction") == 0
    assert proxy.singles("eth_getTransactionReceipt") == 0
    assert proxy.singles("eth_estimateGas") == 0
    queued = ops(engine)
    assert [op.tx_nonce for op in queued] == list(
        range(queued[0].tx_nonce or 0, 120 + (queued[0].tx_nonce or 0))
    )
    assert ledger.datasets.dataset(dataset_id).version_count == 121


def test_a_node_that_refuses_batches_is_sent_one_request_at_a_time(
    through_proxy: tuple[Ledger, Any, Engine], proxy: Proxy
) -> None:
    ledger, people, engine = through_proxy
    dataset_id = queue_versions(engine, ledger, people, "http-refused", 10)
    relayer = _relayer(ledger, people, engine)
    proxy.refuse_batches = True
    proxy.seen.clear()

    settle(relayer, engine)

    assert [op.status for op in ops(engine)] == [OperationStatus.CONFIRMED] * 10
    assert not relayer.transport.batched
    assert len(proxy.batches("eth_sendRawTransaction")) == 1  # tried once, then never again
    assert proxy.singles("eth_sendRawTransaction") == 10
    assert ledger.datasets.dataset(dataset_id).version_count == 11
