"""Outbox rows and chain fixtures the relayer tests share."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, NewVersion
from ledger.relayer import Operation, Relayer, enqueue, next_signature_nonce
from ledger.relayer.relayer import KeyProvider
from ledger.verifier import Verifier

DEPT_A, DEPT_B = 1, 2


def custody(keys: dict[int, list[LocalAccount]]) -> KeyProvider:
    """The service holds ``keys`` (each department's, current and rotated away), by address."""

    def key(department_id: int, address: str) -> LocalAccount | None:
        held = keys.get(department_id, [])
        return next((k for k in held if k.address.lower() == address.lower()), None)

    return key


def create_dataset(ledger: Ledger, actors: Any, label: str) -> bytes:
    salt = label.encode().ljust(32, b"\0")
    ledger.datasets.create_dataset(
        salt,
        Classification.PUBLIC,
        os.urandom(32),
        NewVersion(os.urandom(32)),
        sender=actors.dept_a,
    )
    return ledger.datasets.dataset_id_of(DEPT_A, salt)


def enqueue_add_version(
    session: Session,
    ledger: Ledger,
    actors: Any,
    dataset_id: bytes,
    *,
    nonce: int | None = None,
    signer: LocalAccount | None = None,
    custodial: bool = True,
) -> Operation:
    version = NewVersion(os.urandom(32), os.urandom(32))
    nonce = next_signature_nonce(session, ledger.datasets, DEPT_A) if nonce is None else nonce
    deadline = ledger.chain.block_time() + 3600
    signer = signer or actors.dept_a
    auth = ledger.datasets.sign_add_version(
        dataset_id,
        version,
        signer=signer,
        department_id=DEPT_A,
        deadline=deadline,
        nonce=nonce,
    )
    return enqueue(
        session,
        kind="datasets.add_version",
        contract="DatasetRegistry",
        function="addVersionBySig",
        args=[dataset_id, version.as_abi(), auth.as_abi()],
        department_id=DEPT_A,
        action_type="AddVersion",
        action_fields={
            "datasetId": dataset_id,
            "contentHash": version.content_hash,
            "metadataHash": version.metadata_hash,
            "parents": [],
        },
        signature_nonce=nonce,
        custodial=custodial,
        signer=signer.address,
    )


def queue_versions(engine: Engine, ledger: Ledger, actors: Any, label: str, count: int) -> bytes:
    """A new dataset of department A and ``count`` custodial versions of it in the outbox."""
    dataset_id = create_dataset(ledger, actors, label)
    with Session(engine) as session:
        for _ in range(count):
            enqueue_add_version(session, ledger, actors, dataset_id)
        session.commit()
    return dataset_id


def enqueue_rotation(session: Session, department_id: int, new_signer: str) -> Operation:
    return enqueue(
        session,
        kind="departments.rotate_key",
        contract="DepartmentRegistry",
        function="rotateDepartmentKey",
        args=[department_id, new_signer],
        department_id=department_id,
    )


def attribution(ledger: Ledger, op: Operation) -> tuple[str, str]:
    """Who signed the version ``op`` added, and the department's key at its block, per the
    verifier (from the chain alone)."""
    content = bytes.fromhex(json.loads(op.action_fields or "{}")["contentHash"][2:])
    [registration] = Verifier.for_ledger(ledger).verify(content).registrations
    return registration.signer, registration.department_key


def new_key(name: str) -> LocalAccount:
    account: LocalAccount = Account.from_key(keccak(text=f"provledger-test:relayer:{name}"))
    return account


def ops(engine: Engine) -> list[Operation]:
    with Session(engine) as session:
        return list(session.exec(select(Operation).order_by(Operation.seq)).all())


def drain(relayer: Relayer, ticks: int = 5) -> None:
    """Tick until nothing is pending or sent-unconfirmed, ``ticks`` times at most. A real node
    may still be mining what a tick sent when the same tick asks for receipts: pause a little
    between ticks."""
    for _ in range(ticks):
        relayer.tick()
        if all(op.status in ("confirmed", "failed") for op in ops(relayer.engine)):
            return
        time.sleep(0.05)


@contextmanager
def one_block(chain: Chain) -> Iterator[None]:
    """Everything sent inside is mined together, in one block, on leaving (as on a chain that
    mines on an interval rather than per transaction). Anvil only: eth-tester validates each
    pending transaction against the latest block, so it refuses a sender's second one."""
    if chain.is_in_process:
        pytest.skip("needs a node that mines on demand; run with --chain=anvil")
    chain._rpc("evm_setAutomine", [False])
    try:
        yield
    finally:
        chain._rpc("evm_mine", [])
        chain._rpc("evm_setAutomine", [True])
