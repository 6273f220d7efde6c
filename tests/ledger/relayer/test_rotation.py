"""Key rotation in the outbox: every department action is signed by the key in force at its
turn in the queue, and a signature by a key rotated away fails with the contract's reason."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.relayer import OperationStatus, Relayer, enqueue, next_signer, queued_key_claim
from tests.ledger.relayer.rows import (
    DEPT_A,
    DEPT_B,
    attribution,
    create_dataset,
    custody,
    drain,
    enqueue_add_version,
    enqueue_rotation,
    new_key,
    one_block,
    ops,
)


def test_the_next_signer_is_the_key_of_the_last_enrolment_or_rotation_queued_ahead(
    engine: Engine, ledger: Ledger, actors: Any
) -> None:
    first, second, newcomer = new_key("next-1"), new_key("next-2"), new_key("newcomer")
    with Session(engine) as session:
        assert next_signer(session, ledger.departments, DEPT_A) == actors.dept_a.address
        one = enqueue_rotation(session, DEPT_A, first.address)
        two = enqueue_rotation(session, DEPT_A, second.address)
        enqueue_rotation(session, DEPT_B, new_key("b").address)
        enrolment = enqueue(
            session,
            kind="departments.enrol",
            contract="DepartmentRegistry",
            function="enrolDepartment",
            args=[7, "Newcomer", newcomer.address],
            department_id=7,
        )
        session.commit()

        assert next_signer(session, ledger.departments, DEPT_A) == second.address
        assert next_signer(session, ledger.departments, DEPT_A, before_seq=two.seq) == first.address
        assert (
            next_signer(session, ledger.departments, DEPT_A, before_seq=one.seq)
            == actors.dept_a.address
        )
        assert next_signer(session, ledger.departments, 7) == newcomer.address  # not on chain yet
        assert queued_key_claim(session, first.address.lower()) == one
        assert queued_key_claim(session, newcomer.address) == enrolment
        assert queued_key_claim(session, actors.dept_a.address) is None  # on chain: not queued

        two.status = OperationStatus.FAILED  # a failed rotation changes nothing
        session.commit()

        assert next_signer(session, ledger.departments, DEPT_A) == first.address
        assert queued_key_claim(session, second.address) is None


def test_actions_queued_around_a_rotation_are_signed_by_the_key_of_their_turn(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    new = new_key("rotated-a")
    relayer.keys = custody({DEPT_A: [actors.dept_a, new]})
    dataset_id = create_dataset(ledger, actors, "rotation")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id)
        enqueue_rotation(session, DEPT_A, new.address)
        enqueue_add_version(session, ledger, actors, dataset_id, signer=new)
        session.commit()

    drain(relayer)  # all three in one go: the old key's action is mined before the rotation

    before, _, after = ops(engine)
    assert [op.status for op in ops(engine)] == [OperationStatus.CONFIRMED] * 3
    assert ledger.departments.department(DEPT_A).signer == new.address
    assert attribution(ledger, before) == (actors.dept_a.address, actors.dept_a.address)
    assert attribution(ledger, after) == (new.address, new.address)


def test_a_custodial_re_signature_uses_the_key_in_force_at_the_actions_turn(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    new = new_key("re-signed-a")
    relayer.keys = custody({DEPT_A: [actors.dept_a, new]})
    dataset_id = create_dataset(ledger, actors, "re-sign")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, os.urandom(32))  # fails: frees nonce 0
        enqueue_add_version(session, ledger, actors, dataset_id)
        enqueue_rotation(session, DEPT_A, new.address)
        enqueue_add_version(session, ledger, actors, dataset_id, signer=new)
        session.commit()

    drain(relayer)

    queued = ops(engine)
    before, after = queued[1], queued[3]
    assert [op.status for op in queued] == [OperationStatus.FAILED] + [
        OperationStatus.CONFIRMED
    ] * 3
    # Both later actions were re-signed for the freed nonce, each with the key of its turn.
    assert [op.signature_nonce for op in queued] == [0, 0, None, 1]
    assert [op.signer for op in queued] == [
        actors.dept_a.address,
        actors.dept_a.address,
        None,
        new.address,
    ]
    assert attribution(ledger, before) == (actors.dept_a.address, actors.dept_a.address)
    assert attribution(ledger, after) == (new.address, new.address)


def test_a_custodial_action_signed_by_a_key_not_yet_in_force_is_re_signed(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    # The keystore can run ahead of the queue (new key written, the rotation never committed):
    # the action must still be signed by the key the chain will check.
    new = new_key("ahead")
    relayer.keys = custody({DEPT_A: [actors.dept_a, new]})
    dataset_id = create_dataset(ledger, actors, "ahead")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id, signer=new)
        session.commit()

    drain(relayer)

    [op] = ops(engine)
    assert op.status == OperationStatus.CONFIRMED and op.signer == actors.dept_a.address
    assert attribution(ledger, op) == (actors.dept_a.address, actors.dept_a.address)


def test_when_a_rotation_fails_the_actions_behind_it_are_signed_by_the_old_key(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    relayer.keys = custody({DEPT_A: [actors.dept_a]})
    dataset_id = create_dataset(ledger, actors, "failed-rotation")
    with Session(engine) as session:
        # Department B's key can never become A's: the rotation reverts.
        enqueue_rotation(session, DEPT_A, actors.dept_b.address)
        enqueue_add_version(session, ledger, actors, dataset_id, signer=actors.dept_b)
        session.commit()

    drain(relayer)

    rotation, action = ops(engine)
    assert rotation.status == OperationStatus.FAILED
    assert rotation.error_code == "DepartmentSignerUnavailable"
    assert action.status == OperationStatus.CONFIRMED and action.signer == actors.dept_a.address


def test_a_clients_signature_by_a_key_rotated_away_ahead_of_it_fails_with_the_contract_error(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any
) -> None:
    new = new_key("client-rotated")
    dataset_id = create_dataset(ledger, actors, "client-rotated")
    with Session(engine) as session:
        enqueue_rotation(session, DEPT_A, new.address)
        enqueue_add_version(session, ledger, actors, dataset_id, custodial=False)
        session.commit()

    drain(relayer)

    rotation, action = ops(engine)
    assert rotation.status == OperationStatus.CONFIRMED
    assert action.status == OperationStatus.FAILED
    assert action.error_code == "SignatureWrongSigner"
    assert f"recovers to {actors.dept_a.address}" in (action.error_message or "")
    assert ledger.datasets.dataset(dataset_id).version_count == 1


def test_a_rotation_waits_until_the_departments_actions_ahead_are_mined(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any, chain: Chain
) -> None:
    """An action ahead may still revert and be queued again; sent after the rotation, it would
    run under the new key. So the rotation is held until the actions ahead have receipts."""
    new = new_key("held")
    relayer.keys = custody({DEPT_A: [actors.dept_a, new]})
    dataset_id = create_dataset(ledger, actors, "held")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id)
        enqueue_rotation(session, DEPT_A, new.address)
        enqueue_add_version(session, ledger, actors, dataset_id, signer=new)
        session.commit()

    with one_block(chain):
        first = relayer.tick()
        assert first.sent == 1  # the rotation (and all behind it) waits for the block
    drain(relayer)

    action, rotation, after = ops(engine)
    assert [op.status for op in ops(engine)] == [OperationStatus.CONFIRMED] * 3
    assert (action.block_number or 0) < (rotation.block_number or 0) <= (after.block_number or 0)
    assert attribution(ledger, action) == (actors.dept_a.address, actors.dept_a.address)
    assert attribution(ledger, after) == (new.address, new.address)


def test_an_action_mined_in_the_same_block_as_a_rotation_behind_it_keeps_the_old_key(
    relayer: Relayer, engine: Engine, ledger: Ledger, actors: Any, chain: Chain
) -> None:
    new = new_key("same-block")
    dataset_id = create_dataset(ledger, actors, "same-block")
    with Session(engine) as session:
        enqueue_add_version(session, ledger, actors, dataset_id)
        session.commit()

    with one_block(chain):
        relayer.tick()  # the action
        # The rotation straight from the governance key (the relayer's too), next in its nonce.
        rotate = ledger.departments.contract.functions.rotateDepartmentKey(DEPT_A, new.address)
        tx = rotate.build_transaction(
            {
                "from": actors.governance.address,
                "nonce": relayer._next_nonce or 0,
                "gas": 100_000,
                "chainId": chain.chain_id,
            }
        )
        signed = actors.governance.sign_transaction(tx)
        chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    drain(relayer)

    [action] = ops(engine)
    rotation = chain.w3.eth.get_transaction_receipt(signed.hash)
    assert action.status == OperationStatus.CONFIRMED and rotation["status"] == 1
    assert action.block_number == rotation["blockNumber"]
    assert ledger.departments.department(DEPT_A).signer == new.address
    # The verifier takes the key in force at the action's log, not at the end of its block.
    assert attribution(ledger, action) == (actors.dept_a.address, actors.dept_a.address)
