"""Events decode as web3 decodes them, prepared once per event type: every event the contracts
emit in a ledger's life (enrolment, rotation, suspension, datasets with lineage, versions,
withdrawal, access requested, approved and revoked, batches anchored)."""

from __future__ import annotations

import os
from typing import Any

from eth_account import Account
from web3._utils.events import get_event_data

from ledger.chain.deploy import Ledger
from ledger.chain.event_abi import EventDecoder
from ledger.chain.types import Classification, NewVersion, VersionRef

DEPT_A, DEPT_B = 1, 2


def test_every_event_decodes_as_web3_decodes_it(ledger: Ledger, actors: Any) -> None:
    first_salt, second_salt = os.urandom(32), os.urandom(32)
    ledger.datasets.create_dataset(
        first_salt, Classification.PUBLIC, os.urandom(32), NewVersion(os.urandom(32)),
        sender=actors.dept_a,
    )  # fmt: skip
    first = ledger.datasets.dataset_id_of(DEPT_A, first_salt)
    ledger.datasets.create_dataset(
        second_salt, Classification.INTERNAL, bytes(32),
        NewVersion(os.urandom(32), os.urandom(32), (VersionRef(first, 1),)), sender=actors.dept_b,
    )  # fmt: skip
    ledger.datasets.add_version(
        first, NewVersion(os.urandom(32), bytes(32), (VersionRef(first, 1),)), sender=actors.dept_a
    )
    request_salt = os.urandom(32)
    ledger.access.request_access(request_salt, first, os.urandom(32), 3600, sender=actors.dept_b)
    logs = ledger.chain.w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"})
    request_id = next(
        bytes(log["topics"][1])
        for log in logs
        if ledger.access.event_name(log) == "AccessRequested"
    )
    ledger.access.approve_access(request_id, ledger.chain.block_time() + 1800, sender=actors.dept_a)
    ledger.access.revoke_access(request_id, os.urandom(32), sender=actors.dept_a)
    ledger.datasets.withdraw_dataset(first, os.urandom(32), sender=actors.dept_a)
    ledger.anchors.anchor_batch(os.urandom(32), 7, os.urandom(32), sender=actors.dept_a)
    ledger.departments.rotate_department_key(
        DEPT_B, Account.create().address, sender=actors.governance
    )
    ledger.departments.suspend_department(DEPT_B, os.urandom(32), sender=actors.governance)
    ledger.departments.reactivate_department(DEPT_B, sender=actors.governance)

    logs = ledger.chain.w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"})
    seen = set()
    for client in (ledger.datasets, ledger.departments, ledger.access, ledger.anchors):
        for log in logs:
            name = client.event_name(log)
            if name is None:
                continue
            abi = client._events[bytes(log["topics"][0])]
            theirs = get_event_data(ledger.chain.w3.codec, abi, log)
            ours = EventDecoder(abi).decode(log["topics"], log["data"])
            assert ours == _plain(dict(theirs["args"])), name
            [event] = client.decode_events([log])
            assert event.args == ours and event.name == theirs["event"] == name
            seen.add(name)
    assert {
        "DatasetCreated", "VersionAdded", "DatasetWithdrawn", "AccessRequested",
        "AccessApproved", "AccessRevoked", "BatchAnchored", "DepartmentEnrolled",
        "DepartmentKeyRotated", "DepartmentSuspended", "DepartmentReactivated",
    } <= seen  # fmt: skip


def _plain(value: Any) -> Any:
    """web3's attribute dicts and tuples as plain dicts and lists."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
