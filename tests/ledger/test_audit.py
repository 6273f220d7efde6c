"""A bulk audit gives every hash the verdict the one-at-a-time verifier gives it, reading the
chain in a few JSON-RPC batches whatever the number of hashes."""

from __future__ import annotations

import os
from typing import Any

import pytest

from ledger.audit import BulkVerifier
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, NewVersion, VersionRef
from ledger.rpc.client import Call, LocalJsonRpc
from ledger.verifier import Verifier

DEPT_A, DEPT_B = 1, 2


class CountingRpc:
    """The in-process chain's JSON-RPC, counting the batches and calls it is asked."""

    def __init__(self, ledger: Ledger) -> None:
        self.inner = LocalJsonRpc(ledger.chain)
        self.batches: list[list[Call]] = []

    def batch(self, calls: Any) -> list[Any]:
        self.batches.append(list(calls))
        return self.inner.batch(calls)


def _create(
    ledger: Ledger, department: int, sender: Any, content: bytes, *parents: VersionRef
) -> bytes:
    salt = os.urandom(32)
    ledger.datasets.create_dataset(
        salt, Classification.PUBLIC, bytes(32), NewVersion(content, os.urandom(32), parents),
        sender=sender,
    )  # fmt: skip
    return ledger.datasets.dataset_id_of(department, salt)


@pytest.fixture
def mixed_ledger(ledger: Ledger, actors: Any, deadline: int) -> dict[str, bytes]:
    """Bytes registered every way a verdict can differ: signed and sent, twice, in a later
    version, in a withdrawn dataset, before and after a key rotation; and bytes never seen."""
    from eth_account import Account

    contents = {name: os.urandom(32) for name in ("signed", "sent", "twice", "v2", "withdrawn",
                                                  "rotated", "never")}  # fmt: skip
    salt = os.urandom(32)
    first = NewVersion(contents["signed"], os.urandom(32))
    auth = ledger.datasets.sign_create_dataset(
        salt, Classification.PUBLIC, bytes(32), first,
        signer=actors.dept_a, department_id=DEPT_A, deadline=deadline,
    )  # fmt: skip
    ledger.datasets.create_dataset_by_sig(
        salt, Classification.PUBLIC, bytes(32), first, auth=auth, sender=actors.relayer
    )
    signed = ledger.datasets.dataset_id_of(DEPT_A, salt)
    _create(ledger, DEPT_B, actors.dept_b, contents["sent"], VersionRef(signed, 1))
    _create(ledger, DEPT_A, actors.dept_a, contents["twice"])
    _create(ledger, DEPT_B, actors.dept_b, contents["twice"])
    ledger.datasets.add_version(signed, NewVersion(contents["v2"]), sender=actors.dept_a)
    gone = _create(ledger, DEPT_B, actors.dept_b, contents["withdrawn"])
    ledger.datasets.withdraw_dataset(gone, bytes(32), sender=actors.dept_b)
    _create(ledger, DEPT_A, actors.dept_a, contents["rotated"])
    ledger.departments.rotate_department_key(
        DEPT_A, Account.create().address, sender=actors.governance
    )
    return contents


def test_every_hash_gets_the_verdict_the_single_verifier_gives_it(
    ledger: Ledger, mixed_ledger: dict[str, bytes]
) -> None:
    names = list(mixed_ledger)
    digests = [mixed_ledger[n] for n in names]

    audit = BulkVerifier.for_ledger(ledger, LocalJsonRpc(ledger.chain)).verify_many(digests)

    single = Verifier.for_ledger(ledger)
    for name, digest, verdict in zip(names, digests, audit.verdicts, strict=True):
        assert verdict.to_dict() == single.verify(digest).to_dict(), name
    by_name = dict(zip(names, audit.verdicts, strict=True))
    assert not by_name["never"].matched
    assert [r.department_id for r in by_name["twice"].registrations] == [DEPT_A, DEPT_B]
    assert by_name["withdrawn"].registrations[0].withdrawn
    assert by_name["signed"].registrations[0].authorised_by == "signature"
    assert by_name["v2"].registrations[0].version == 2
    rotated = by_name["rotated"].registrations[0]
    assert rotated.authentic and rotated.signer == rotated.department_key
    assert audit.block_number == ledger.chain.head()[0]


def test_the_chain_is_read_in_the_same_few_batches_for_one_hash_or_a_thousand(
    ledger: Ledger, mixed_ledger: dict[str, bytes]
) -> None:
    many = [os.urandom(32) for _ in range(997)] + list(mixed_ledger.values())
    one, thousand = CountingRpc(ledger), CountingRpc(ledger)

    BulkVerifier.for_ledger(ledger, one).verify_many([mixed_ledger["signed"]])
    audit = BulkVerifier.for_ledger(ledger, thousand).verify_many(many)

    assert len(thousand.batches) == len(one.batches) <= 8
    assert sum(v.matched for v in audit.verdicts) == len(mixed_ledger) - 1


def test_a_node_withholding_a_version_log_leaves_the_history_incomplete(
    ledger: Ledger, mixed_ledger: dict[str, bytes]
) -> None:
    class Withholding(CountingRpc):
        def batch(self, calls: Any) -> list[Any]:
            answers = super().batch(calls)
            return [
                a[:-1] if method == "eth_getLogs" and len(params[0]["topics"]) == 2 else a
                for (method, params), a in zip(calls, answers, strict=True)
            ]

    [verdict] = (
        BulkVerifier.for_ledger(ledger, Withholding(ledger))
        .verify_many([mixed_ledger["v2"]])
        .verdicts
    )

    [registration] = verdict.registrations
    assert not registration.history_complete and not verdict.authentic


def test_duplicate_hashes_are_answered_in_the_order_asked(
    ledger: Ledger, mixed_ledger: dict[str, bytes]
) -> None:
    asked = [mixed_ledger["never"], mixed_ledger["sent"], mixed_ledger["never"]]

    audit = BulkVerifier.for_ledger(ledger, LocalJsonRpc(ledger.chain)).verify_many(asked)

    assert [v.content_hash for v in audit.verdicts] == ["0x" + d.hex() for d in asked]
    assert [v.matched for v in audit.verdicts] == [False, True, False]
