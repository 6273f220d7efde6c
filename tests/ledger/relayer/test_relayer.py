"""The relayer takes every acknowledged write to the chain, and says why when it cannot."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.relayer import OperationStatus, Relayer, enqueue
from tests.ledger.relayer.rows import (
    DEPT_A,
    create_dataset,
    custody,
    drain,
    enqueue_add_version,
    ops,
)


def test_a_governance_write_is_sent_mined_and_confirmed_with_chain_coordinates(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    newcomer = os.urandom(20)
    address = ledger.chain.w3.to_checksum_address(newcomer)
    with Session(engine) as session:
        enqueue(
            session,
            kind="departments.enrol",
            contract="DepartmentRegistry",
            function="enrolDepartment",
            args=[7, "Valuation Office", address],
        )
        session.commit()

    report = relayer.tick()
    drain(relayer)

    assert report.sent == 1
    [op] = ops(engine)
    assert op.status == OperationStatus.CONFIRMED
    assert op.tx_hash is not None and op.block_hash is not None and op.gas_used
    block = ledger.chain.w3.eth.get_block(op.block_number or 0)
    assert block["hash"].to_0x_hex() == op.block_hash
    assert ledger.departments.department(7).signer == address


def test_a_signed_version_is_relayed_and_its_number_recorded(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    dataset_id = create_dataset(ledger, actors, "relayed")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id)
        session.commit()

    drain(relayer)

    [op] = ops(engine)
    assert op.status == OperationStatus.CONFIRMED
    assert op.result_data()["version"] == 2
    assert ledger.datasets.dataset(dataset_id).version_count == 2


def test_a_call_that_reverts_fails_from_its_receipt_with_the_contract_error(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, os.urandom(32))
        session.commit()

    report = relayer.tick()

    [op] = ops(engine)
    assert report.sent == 1 and report.failed == 1 and report.retried == 0
    assert op.status == OperationStatus.FAILED
    assert op.error_code == "DatasetUnknown"
    assert op.error_message and op.error_message.startswith("no dataset 0x")
    # No estimate before sending: the revert is the mined transaction's.
    receipt = ledger.chain.w3.eth.get_transaction_receipt(op.tx_hash or "")
    assert receipt["status"] == 0 and receipt["blockNumber"] == op.block_number


def test_a_failed_action_frees_its_nonce_and_custodial_signatures_after_it_are_redone(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    dataset_id = create_dataset(ledger, actors, "gap")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, os.urandom(32))  # will fail: unknown dataset
        enqueue_add_version(session, ledger, actors, dataset_id)
        enqueue_add_version(session, ledger, actors, dataset_id)
        session.commit()
    assert [op.signature_nonce for op in ops(engine)] == [0, 1, 2]

    drain(relayer)

    statuses = [op.status for op in ops(engine)]
    assert statuses == [
        OperationStatus.FAILED,
        OperationStatus.CONFIRMED,
        OperationStatus.CONFIRMED,
    ]
    assert [op.signature_nonce for op in ops(engine)] == [0, 0, 1]
    assert ledger.datasets.dataset(dataset_id).version_count == 3


def test_a_clients_signature_with_a_stale_nonce_fails_with_a_clear_reason(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    dataset_id = create_dataset(ledger, actors, "stale")
    with Session(engine) as session:
        op = enqueue_add_version(session, ledger, actors, dataset_id, nonce=5)
        op.custodial = False
        session.commit()

    relayer.tick()

    [op] = ops(engine)
    assert op.status == OperationStatus.FAILED
    assert op.error_code == "stale-signature-nonce"
    assert "expects 0" in (op.error_message or "")


def test_a_transaction_recorded_but_never_broadcast_is_sent_by_the_next_tick(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_id = create_dataset(ledger, actors, "crash")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id)
        session.commit()
    # The process "dies" between committing the signed transaction and broadcasting it.
    monkeypatch.setattr(relayer, "_broadcast", lambda txs: [True] * len(txs))
    relayer.tick()
    assert ops(engine)[0].status == OperationStatus.SUBMITTED
    monkeypatch.undo()

    report = relayer.tick()

    assert report.resent == 1
    drain(relayer)
    assert ops(engine)[0].status == OperationStatus.CONFIRMED
    assert ledger.datasets.dataset(dataset_id).version_count == 2


def test_an_operation_is_confirmed_only_k_blocks_deep(
    ledger: Ledger, engine: Engine, actors: Any, chain: Chain
) -> None:
    relayer = Relayer(
        ledger=ledger,
        engine=engine,
        account=actors.governance,
        keys=custody({}),
        confirmations=3,
    )
    dataset_id = create_dataset(ledger, actors, "deep")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id).custodial = True
        session.commit()
    relayer.keys = custody({DEPT_A: [actors.dept_a]})

    relayer.tick()
    assert ops(engine)[0].status == OperationStatus.SUBMITTED
    chain.advance_time(1)
    relayer.tick()
    assert ops(engine)[0].status == OperationStatus.SUBMITTED
    chain.advance_time(1)
    relayer.tick()
    assert ops(engine)[0].status == OperationStatus.CONFIRMED


def test_a_mined_transaction_whose_block_vanishes_is_sent_again(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any, chain: Chain
) -> None:
    relayer.confirmations = 2
    dataset_id = create_dataset(ledger, actors, "reorg")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id)
        session.commit()
    before = chain.snapshot()
    relayer.tick()
    first_block = ops(engine)[0].block_number
    assert first_block is not None and ledger.datasets.dataset(dataset_id).version_count == 2

    chain.revert(before)  # the block holding our transaction is gone
    assert ledger.datasets.dataset(dataset_id).version_count == 1
    drain(relayer)
    chain.advance_time(1)
    drain(relayer)

    [op] = ops(engine)
    assert op.status == OperationStatus.CONFIRMED
    assert ledger.datasets.dataset(dataset_id).version_count == 2


def test_an_action_behind_a_sent_but_unmined_one_waits_for_it_instead_of_failing(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kill -9 case: the first action's transaction was recorded but never reached the
    chain, so the second's signature nonce runs ahead of the contract's until it is re-sent."""
    dataset_id = create_dataset(ledger, actors, "ahead")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id)
        session.commit()
    monkeypatch.setattr(relayer, "_broadcast", lambda txs: [True] * len(txs))
    relayer.tick()  # recorded, "crashed" before the broadcast
    monkeypatch.undo()
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id)  # signature nonce 1
        session.commit()

    report = relayer.tick()

    # The second is sent without a pre-send check, right behind the first's account nonce: the
    # node refuses it (eth-tester, re-sent after the first) or parks it until the first is re-sent.
    assert report.failed == 0 and report.resent == (2 if ledger.chain.is_in_process else 1)
    drain(relayer)
    assert [op.status for op in ops(engine)] == [OperationStatus.CONFIRMED] * 2
    assert ledger.datasets.dataset(dataset_id).version_count == 3


def test_a_transaction_mined_just_after_its_receipt_was_looked_up_is_not_sent_again(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen on anvil: the receipt lookup missed a transaction that the nonce read just after
    counted as mined, and the relayer re-queued it as if another transaction took its nonce."""
    dataset_id = create_dataset(ledger, actors, "race")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id)
        session.commit()
    monkeypatch.setattr(relayer, "_track_submitted", lambda: (0, 0, 0, 0))
    relayer.tick()  # sent and mined, not yet tracked
    monkeypatch.undo()
    real_receipts, missed = relayer._receipts, []

    def first_lookup_misses(looked_up: list[Any]) -> list[Any]:
        if not missed:
            missed.extend(op.id for op in looked_up)
            return [None] * len(looked_up)
        return real_receipts(looked_up)

    monkeypatch.setattr(relayer, "_receipts", first_lookup_misses)
    report = relayer.tick()

    assert missed and report.failed == 0 and report.resent == 0
    drain(relayer)
    (op,) = ops(engine)
    assert op.status == OperationStatus.CONFIRMED and op.attempts == 1
    assert ledger.datasets.dataset(dataset_id).version_count == 2
