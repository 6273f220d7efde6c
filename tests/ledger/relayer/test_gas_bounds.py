"""The relayer's static gas bounds hold for every function at its worst realistic shape.

Each call is mined with exactly its bound as the gas limit (an out-of-gas would revert it) in
its most expensive state: the department's first signature on the contract (nonce 0 → 1), a
128-byte department name, 64 parents each in a different (cold) dataset, an approval that
supersedes a live grant. The bound must leave 10% to spare for state the test did not think of.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from ledger.chain.abi_json import function_inputs, to_json
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, Kem, NewVersion, VersionRef
from ledger.relayer.gas import BOUNDS, TX_GAS_CAP, gas_limit
from tests.ledger.relayer.rows import DEPT_A, DEPT_B, new_key

DAY = 86_400
HEADROOM = 0.9  # measured gas must stay under 90% of the bound


class Miner:
    """Mines calls with the bound as gas limit and keeps what each used."""

    def __init__(self, ledger: Ledger, relayer: LocalAccount) -> None:
        self.ledger = ledger
        self.relayer = relayer
        self.used: list[tuple[str, int, int]] = []  # (function, gas used, bound)

    def mine(self, contract: str, function: str, args: list[Any]) -> None:
        client = {
            "DepartmentRegistry": self.ledger.departments,
            "DatasetRegistry": self.ledger.datasets,
            "AccessRegistry": self.ledger.access,
            "AnchorRegistry": self.ledger.anchors,
            "KeyDirectory": self.ledger.keys,
        }[contract]
        limit = gas_limit(contract, function, to_json(args, function_inputs(contract, function)))
        assert limit is not None, f"{contract}.{function} has no bound"
        fn = client.contract.functions[function](*args)
        receipt = self.ledger.chain.transact(fn, self.relayer, gas=limit)
        self.used.append((function, receipt.gas_used, limit))


def test_every_bound_holds_with_headroom_at_the_worst_shape(ledger: Ledger, actors: Any) -> None:
    gov, a, b = actors.governance, actors.dept_a, actors.dept_b
    miner = Miner(ledger, gov)
    deadline = ledger.chain.block_time() + DAY
    datasets, access = ledger.datasets, ledger.access

    # Department registry (governance calls; the relayer account holds the roles).
    key = new_key("bounds-enrol")
    miner.mine("DepartmentRegistry", "enrolDepartment", [9, "n" * 128, key.address])
    miner.mine("DepartmentRegistry", "rotateDepartmentKey", [9, new_key("bounds-rot").address])
    miner.mine("DepartmentRegistry", "suspendDepartment", [9, os.urandom(32)])
    miner.mine("DepartmentRegistry", "reactivateDepartment", [9])

    # 64 parents, each the only version of its own dataset: every lineage check is a cold read.
    parents = []
    for i in range(64):
        salt = f"bounds-parent-{i}".encode().ljust(32, b"\0")
        datasets.create_dataset(
            salt, Classification.PUBLIC, os.urandom(32), NewVersion(os.urandom(32)), sender=a
        )
        parents.append(VersionRef(datasets.dataset_id_of(DEPT_A, salt), 1))
    first = NewVersion(os.urandom(32), os.urandom(32), tuple(parents))
    salt, meta = os.urandom(32), os.urandom(32)
    auth = datasets.sign_create_dataset(
        salt, Classification.RESTRICTED, meta, first, signer=a, department_id=DEPT_A,
        deadline=deadline,
    )  # fmt: skip
    miner.mine(
        "DatasetRegistry",
        "createDatasetBySig",
        [salt, int(Classification.RESTRICTED), meta, first.as_abi(), auth.as_abi()],
    )
    dataset_id = datasets.dataset_id_of(DEPT_A, salt)
    version = NewVersion(os.urandom(32), os.urandom(32), tuple(parents))
    auth = datasets.sign_add_version(
        dataset_id, version, signer=a, department_id=DEPT_A, deadline=deadline
    )
    miner.mine("DatasetRegistry", "addVersionBySig", [dataset_id, version.as_abi(), auth.as_abi()])
    reason = os.urandom(32)
    auth = datasets.sign_withdraw_dataset(
        parents[0].dataset_id, reason, signer=a, department_id=DEPT_A, deadline=deadline
    )
    miner.mine(
        "DatasetRegistry", "withdrawDatasetBySig", [parents[0].dataset_id, reason, auth.as_abi()]
    )

    # Access registry: B asks A; the signed approval supersedes a live grant.
    target = parents[1].dataset_id
    live = os.urandom(32)
    access.request_access(live, target, os.urandom(32), 30 * DAY, sender=b)
    live_id = access.request_id_of(DEPT_B, live)
    access.approve_access(live_id, ledger.chain.block_time() + DAY, sender=a)

    def signed_request() -> bytes:
        salt, purpose = os.urandom(32), os.urandom(32)
        auth = access.sign_request_access(
            salt, target, purpose, 30 * DAY, signer=b, department_id=DEPT_B, deadline=deadline
        )
        miner.mine(
            "AccessRegistry",
            "requestAccessBySig",
            [salt, target, purpose, 30 * DAY, auth.as_abi()],
        )
        return access.request_id_of(DEPT_B, salt)

    approved = signed_request()
    expires = ledger.chain.block_time() + 2 * DAY
    auth = access.sign_approve_access(
        approved, expires, signer=a, department_id=DEPT_A, deadline=deadline
    )
    miner.mine("AccessRegistry", "approveAccessBySig", [approved, expires, auth.as_abi()])
    denied = signed_request()
    auth = access.sign_deny_access(
        denied, reason, signer=a, department_id=DEPT_A, deadline=deadline
    )
    miner.mine("AccessRegistry", "denyAccessBySig", [denied, reason, auth.as_abi()])
    cancelled = signed_request()
    auth = access.sign_cancel_access_request(
        cancelled, signer=b, department_id=DEPT_B, deadline=deadline
    )
    miner.mine("AccessRegistry", "cancelAccessRequestBySig", [cancelled, auth.as_abi()])
    auth = access.sign_revoke_access(
        approved, reason, signer=a, department_id=DEPT_A, deadline=deadline
    )
    miner.mine("AccessRegistry", "revokeAccessBySig", [approved, reason, auth.as_abi()])

    root, meta = os.urandom(32), os.urandom(32)
    auth = ledger.anchors.sign_anchor_batch(
        root, 2**32, meta, signer=a, department_id=DEPT_A, deadline=deadline
    )
    miner.mine("AnchorRegistry", "anchorBatchBySig", [root, 2**32, meta, auth.as_abi()])

    # The department's first key, of the hybrid KEM (the longest key the directory takes), on
    # its first signature to the key directory.
    kem = Kem.MLKEM768_X25519
    public_key = os.urandom(kem.public_key_length)
    auth = ledger.keys.sign_publish_encryption_key(
        kem, public_key, signer=a, department_id=DEPT_A, deadline=deadline
    )
    miner.mine("KeyDirectory", "publishEncryptionKeyBySig", [int(kem), public_key, auth.as_abi()])

    # The bases alone: a version without parents, on department B's first signature.
    salt = os.urandom(32)
    datasets.create_dataset(
        salt, Classification.PUBLIC, os.urandom(32), NewVersion(os.urandom(32)), sender=b
    )
    own = datasets.dataset_id_of(DEPT_B, salt)
    version = NewVersion(os.urandom(32), os.urandom(32))
    auth = datasets.sign_add_version(
        own, version, signer=b, department_id=DEPT_B, deadline=deadline
    )
    miner.mine("DatasetRegistry", "addVersionBySig", [own, version.as_abi(), auth.as_abi()])

    assert {f for f, _, _ in miner.used} == {f for _, f in BOUNDS}, "every bound is measured"
    tight = [(f, used, limit) for f, used, limit in miner.used if used > limit * HEADROOM]
    assert not tight, f"(function, gas used, bound) with less than 10% to spare: {tight}"


@pytest.mark.parametrize("key", sorted(BOUNDS))
def test_no_bound_exceeds_the_per_transaction_gas_cap(key: tuple[str, str]) -> None:
    bound = BOUNDS[key]
    worst = bound.base + bound.per_parent * 64
    assert worst < TX_GAS_CAP
