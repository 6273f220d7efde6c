"""Many operations in flight at once: consecutive account nonces, reverts found in receipts
without holding up the queue, and a crash between recording and broadcasting."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ledger.chain.deploy import Ledger
from ledger.relayer import OperationStatus, Relayer, enqueue
from tests.ledger.relayer.rows import (
    DEPT_A,
    DEPT_B,
    create_dataset,
    custody,
    drain,
    enqueue_add_version,
    ops,
    queue_versions,
)


def test_a_batch_of_operations_is_sent_in_one_tick_with_consecutive_nonces(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    dataset_id = queue_versions(engine, ledger, actors, "batch", 40)
    start = ledger.chain.w3.eth.get_transaction_count(actors.governance.address)

    report = relayer.tick()
    drain(relayer)

    assert report.sent == 40  # all in one tick
    queued = ops(engine)
    assert [op.status for op in queued] == [OperationStatus.CONFIRMED] * 40
    assert [op.tx_nonce for op in queued] == list(range(start, start + 40))
    assert [op.signature_nonce for op in queued] == list(range(40))
    assert [op.result_data()["version"] for op in queued] == list(range(2, 42))
    assert ledger.datasets.dataset(dataset_id).version_count == 41


def test_a_revert_found_in_a_receipt_fails_its_operation_and_the_queue_goes_on(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    dataset_id = create_dataset(ledger, actors, "revert")
    newcomer = ledger.chain.w3.to_checksum_address(os.urandom(20))
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id)
        enqueue_add_version(session, ledger, actors, os.urandom(32))  # reverts: DatasetUnknown
        enqueue_add_version(session, ledger, actors, dataset_id)
        enqueue_add_version(session, ledger, actors, dataset_id)
        enqueue(
            session,
            kind="departments.enrol",
            contract="DepartmentRegistry",
            function="enrolDepartment",
            args=[8, "Land Registry", newcomer],
            department_id=8,
        )
        session.commit()

    first = relayer.tick()
    drain(relayer)

    # All five went out together; the two actions behind the revert carried the signature
    # nonces after its one, which it never consumed: they were re-signed, not failed.
    assert first.sent == 5
    good, bad, behind, last, enrolment = ops(engine)
    assert bad.status == OperationStatus.FAILED and bad.error_code == "DatasetUnknown"
    assert bad.error_message and bad.error_message.startswith("no dataset 0x")
    assert [op.status for op in (good, behind, last, enrolment)] == [OperationStatus.CONFIRMED] * 4
    assert [op.signature_nonce for op in (good, bad, behind, last)] == [0, 1, 1, 2]
    assert [behind.attempts, last.attempts, enrolment.attempts] == [2, 2, 1]
    assert ledger.datasets.dataset(dataset_id).version_count == 4
    assert ledger.departments.department(8).signer == newcomer


def test_a_clients_signature_behind_a_revert_fails_as_stale_instead_of_being_re_signed(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    dataset_id = create_dataset(ledger, actors, "client-behind")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, os.urandom(32))  # reverts: DatasetUnknown
        enqueue_add_version(session, ledger, actors, dataset_id, custodial=False)
        session.commit()

    drain(relayer)

    bad, client = ops(engine)
    assert bad.error_code == "DatasetUnknown"
    assert client.status == OperationStatus.FAILED
    assert client.error_code == "stale-signature-nonce"
    assert "expects 0" in (client.error_message or "")


def test_a_new_relayer_on_the_same_outbox_sends_what_a_crashed_one_recorded(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_id = queue_versions(engine, ledger, actors, "crashed", 5)
    # The process dies after committing the signed transactions, before broadcasting them.
    monkeypatch.setattr(relayer, "_broadcast", lambda txs: [True] * len(txs))
    monkeypatch.setattr(relayer, "_track_submitted", lambda: (0, 0, 0, 0))
    assert relayer.tick().sent == 5
    recorded = [(op.tx_nonce, op.tx_hash) for op in ops(engine)]
    assert [op.status for op in ops(engine)] == [OperationStatus.SUBMITTED] * 5

    restarted = Relayer(
        ledger=ledger,
        engine=engine,
        account=actors.governance,
        keys=custody({DEPT_A: [actors.dept_a], DEPT_B: [actors.dept_b]}),
    )
    report = restarted.tick()

    assert report.resent == 5 and report.sent == 0
    drain(restarted)
    after = ops(engine)
    assert [op.status for op in after] == [OperationStatus.CONFIRMED] * 5
    # The very transactions recorded, byte for byte: same nonces, same hashes, sent once each.
    assert [(op.tx_nonce, op.tx_hash) for op in after] == recorded
    assert [op.attempts for op in after] == [1] * 5
    assert ledger.datasets.dataset(dataset_id).version_count == 6
