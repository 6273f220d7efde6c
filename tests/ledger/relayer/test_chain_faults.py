"""The relayer survives its chain: reorgs of any depth, blocks rolled back, a node restarted
from a state that lost its tip.

Each test runs its own anvil node (these faults are anvil's ``anvil_reorg``/``anvil_rollback``
and a ``SIGKILL``), with K = 3. After every fault the relayer ticks until it settles, and the
same promises are checked: every operation ends confirmed exactly once on the canonical chain or
failed with a named reason; none is confirmed without its receipt on chain; the account's nonces
have no gap (nothing waits in the node's queue).
"""

from __future__ import annotations

import gzip
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ledger.chain.anvil import AnvilNode
from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.db import create_tables, make_engine
from ledger.relayer import OperationEvent, OperationStatus, Relayer
from tests.conftest import Actors, _key
from tests.ledger.relayer.rows import DEPT_A, create_dataset, custody, enqueue_add_version, ops

K = 3

pytestmark = pytest.mark.slow


@dataclass
class Faulty:
    """A ledger on a node of its own, an outbox and a relayer, and the node to break."""

    node: AnvilNode
    chain: Chain
    ledger: Ledger
    actors: Actors
    engine: Engine
    relayer: Relayer

    def rpc(self, method: str, *params: Any) -> Any:
        return self.chain._rpc(method, list(params))

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def settle(self, rounds: int = 40) -> None:
        """Tick, mining a block between ticks, until every operation is confirmed or failed."""
        for _ in range(rounds):
            self.relayer.tick()
            settled = all(op.status in ("confirmed", "failed") for op in ops(self.engine))
            if settled and self.relayer.tick().reorged == 0:
                return
            self.mine()
        pytest.fail(f"not settled: {[(op.id, op.status) for op in ops(self.engine)]}")


@pytest.fixture
def faulty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Faulty]:
    if request.config.getoption("--chain") == "anvil":
        pytest.skip("runs a node of its own; the default pass covers it")
    with AnvilNode() as node:
        faulty = _deploy(node, tmp_path)
        yield faulty
        faulty.chain.close()
        faulty.engine.dispose()


def _deploy(node: AnvilNode, tmp_path: Path) -> Faulty:
    chain = Chain.rpc(node.url, expected_chain_id=node.chain_id)
    actors = Actors(*(_key(n) for n in ("governance", "relayer", "a", "b", "c", "outsider")))
    for person in vars(actors).values():
        chain.fund(person.address, 10**21)
    ledger = Ledger.deploy(chain, actors.governance)
    ledger.departments.enrol_department(
        DEPT_A, "Health", actors.dept_a.address, sender=actors.governance
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    create_tables(engine)
    relayer = Relayer(
        ledger=ledger,
        engine=engine,
        account=actors.relayer,
        keys=custody({DEPT_A: [actors.dept_a]}),
        confirmations=K,
    )
    return Faulty(node, chain, ledger, actors, engine, relayer)


def assert_settled_exactly_once(faulty: Faulty, dataset_id: bytes, versions: int) -> None:
    """The promises, checked against the chain alone."""
    w3 = faulty.chain.w3
    settled = ops(faulty.engine)
    for op in settled:
        assert op.status in ("confirmed", "failed"), (op.id, op.status)
        if op.status == "failed":
            assert op.error_code, op.id  # a named reason
            continue
        receipt = w3.eth.get_transaction_receipt(HexBytes(op.tx_hash or ""))
        assert receipt is not None and receipt["status"] == 1, op.id
        assert HexBytes(receipt["blockHash"]).to_0x_hex() == op.block_hash
        assert w3.eth.get_block(op.block_number)["hash"] == receipt["blockHash"]  # canonical
    # Exactly once: one VersionAdded per confirmed operation, no more.
    added = faulty.ledger.datasets.contract.events.VersionAdded().get_logs(
        from_block=0, argument_filters={"datasetId": dataset_id}
    )
    confirmed = [op for op in settled if op.status == "confirmed"]
    assert len(added) == 1 + len(confirmed)  # version 1 came with the dataset
    assert faulty.ledger.datasets.dataset(dataset_id).version_count == 1 + len(confirmed)
    assert len(confirmed) == versions - sum(op.status == "failed" for op in settled)
    assert_no_nonce_gap(faulty)


def assert_no_nonce_gap(faulty: Faulty) -> None:
    address = faulty.actors.relayer.address
    w3 = faulty.chain.w3
    assert w3.eth.get_transaction_count(address, "pending") == w3.eth.get_transaction_count(
        address, "latest"
    )
    status = faulty.rpc("txpool_status")
    assert int(status["queued"], 16) == 0 and int(status["pending"], 16) == 0


def confirm(faulty: Faulty, label: str, count: int) -> bytes:
    """A dataset created well below any reorg to come, then ``count`` versions of it relayed
    one block each, all confirmed."""
    dataset_id = create_dataset(faulty.ledger, faulty.actors, label)
    faulty.mine(2 * K + 4)
    for _ in range(count):
        queue_versions_for(faulty, dataset_id, 1)
        faulty.relayer.tick()
    faulty.settle()
    assert all(op.status == OperationStatus.CONFIRMED for op in ops(faulty.engine))
    assert len({op.block_number for op in ops(faulty.engine)}) == count
    return dataset_id


def reorged_events(engine: Engine) -> list[OperationEvent]:
    with Session(engine) as session:
        return list(session.exec(select(OperationEvent).where(OperationEvent.event == "reorged")))


@pytest.mark.parametrize("depth", range(1, K + 3))
@pytest.mark.parametrize("fault", ["anvil_reorg", "anvil_rollback"])
def test_confirmed_operations_that_a_reorg_of_any_depth_removes_are_sent_again_and_confirmed_once(
    faulty: Faulty, depth: int, fault: str
) -> None:
    dataset_id = confirm(faulty, f"{fault}-{depth}", 5)
    head = faulty.chain.w3.eth.block_number
    removed = {op.id for op in ops(faulty.engine) if (op.block_number or 0) > head - depth}

    if fault == "anvil_reorg":
        faulty.rpc("anvil_reorg", depth, [])
    else:
        faulty.rpc("anvil_rollback", depth)
    faulty.settle()

    assert_settled_exactly_once(faulty, dataset_id, versions=5)
    assert {op.id: op.reorged for op in ops(faulty.engine) if op.reorged} == dict.fromkeys(
        removed, 1
    )
    assert {e.operation_id for e in reorged_events(faulty.engine)} == removed
    if depth >= K:  # deeper than the confirmations: at least one confirmed operation was undone
        assert removed


def test_a_reorg_whose_new_blocks_change_the_state_fails_the_undone_operation_by_name(
    faulty: Faulty,
) -> None:
    """The new branch holds the department's own withdrawal of the dataset: the versions the
    relayer sends again can no longer succeed, and end failed with the contract's reason."""
    dataset_id = confirm(faulty, "replaced", 2)
    withdraw = faulty.ledger.datasets.contract.functions.withdrawDataset(dataset_id, b"\0" * 32)
    dept = faulty.actors.dept_a
    tx = withdraw.build_transaction(
        {
            "from": dept.address,
            "nonce": faulty.chain.w3.eth.get_transaction_count(dept.address),
            "gas": 200_000,
            "chainId": faulty.chain.chain_id,
        }
    )
    raw = dept.sign_transaction(tx).raw_transaction.to_0x_hex()
    unrelated = {"from": faulty.actors.outsider.address, "to": dept.address, "value": "0x1"}
    faulty.rpc("anvil_impersonateAccount", faulty.actors.outsider.address)

    faulty.rpc("anvil_reorg", K + 2, [[raw, 0], [unrelated, 1]])
    faulty.settle()

    settled = ops(faulty.engine)
    assert [op.status for op in settled] == ["failed", "failed"]
    assert {op.error_code for op in settled} == {"DatasetIsWithdrawn"}
    assert all(op.reorged == 1 for op in settled)
    assert faulty.ledger.datasets.dataset(dataset_id).withdrawn
    assert_settled_exactly_once(faulty, dataset_id, versions=2)


def test_a_nonce_that_a_reorg_frees_and_no_operation_holds_is_filled(
    faulty: Faulty, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operation's first transaction ran out of gas (nonce n, reverted), so it was signed
    again at n + 1 and confirmed. A reorg removes both: the operation is sent again at n + 1,
    but nothing of the relayer's holds n any more. Without an empty transfer at n, the node
    parks n + 1, and everything after it, for good."""
    dataset_id = create_dataset(faulty.ledger, faulty.actors, "gap")
    faulty.mine(2 * K + 4)
    monkeypatch.setattr("ledger.relayer.relayer.gas_limit", lambda *args: 40_000)
    queue_versions_for(faulty, dataset_id, 1)
    faulty.relayer.tick()  # out of gas: queued again, estimated next time
    monkeypatch.undo()
    faulty.settle()
    [op] = ops(faulty.engine)
    assert op.status == "confirmed" and op.attempts == 2
    address = faulty.actors.relayer.address
    freed = faulty.chain.w3.eth.get_transaction_count(address) - 2

    faulty.rpc("anvil_rollback", K + 2)
    faulty.settle()

    [op] = ops(faulty.engine)
    assert op.status == "confirmed" and op.reorged == 1
    with Session(faulty.engine) as session:
        [filled] = session.exec(
            select(OperationEvent).where(OperationEvent.event == "nonce-gap-filled")
        ).all()
    assert filled.tx_nonce == freed
    assert faulty.chain.w3.eth.get_transaction(HexBytes(filled.tx_hash or ""))["to"] == address
    queue_versions_for(faulty, dataset_id, 1)  # and a later write is not stuck behind it
    faulty.settle()
    assert_settled_exactly_once(faulty, dataset_id, versions=2)


def queue_versions_for(faulty: Faulty, dataset_id: bytes, count: int) -> None:
    with Session(faulty.engine) as session:
        for _ in range(count):
            enqueue_add_version(session, faulty.ledger, faulty.actors, dataset_id)
        session.commit()


@pytest.mark.parametrize("lost", [0, 1, 2, 4, 5])
def test_a_node_killed_and_restarted_from_a_state_without_its_last_blocks(
    tmp_path: Path, request: pytest.FixtureRequest, lost: int
) -> None:
    """SIGKILL, then the node comes back from its last saved state, ``lost`` blocks behind its
    tip: what those blocks held (confirmed operations when K or more blocks are lost, sent ones
    otherwise) is sent again; nothing stays queued."""
    if request.config.getoption("--chain") == "anvil":
        pytest.skip("runs a node of its own; the default pass covers it")
    with AnvilNode() as first:
        faulty = _deploy(first, tmp_path)
        dataset_id = confirm(faulty, f"killed-{lost}", 3)
        state = tmp_path / "state.json"
        state.write_bytes(gzip.decompress(HexBytes(faulty.rpc("anvil_dumpState"))))
        saved = faulty.chain.w3.eth.block_number
        after_dump = min(lost, 2)  # operations mined in the blocks the saved state lacks
        queue_versions_for(faulty, dataset_id, after_dump)
        faulty.relayer.tick()  # sent: mined together, in the block after the saved state
        faulty.mine(saved + lost - faulty.chain.w3.eth.block_number)
        faulty.relayer.tick()
        confirmed_then = sum(op.status == "confirmed" for op in ops(faulty.engine))
        assert confirmed_then == 3 + (after_dump if lost >= K else 0)
        assert faulty.chain.w3.eth.block_number == saved + lost
        _kill(first)
        port = first.port
    with AnvilNode(port=port, extra_args=("--load-state", str(state))):
        assert faulty.chain.w3.eth.block_number == saved  # back without its last blocks
        faulty.settle()
        assert_settled_exactly_once(faulty, dataset_id, versions=3 + after_dump)
        undone = [op for op in ops(faulty.engine) if op.reorged]
        assert len(undone) == (after_dump if lost >= K else 0)
    faulty.chain.close()
    faulty.engine.dispose()


def _kill(node: AnvilNode) -> None:
    process = node._process
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    if process.stderr:
        process.stderr.close()
    node._process = None
