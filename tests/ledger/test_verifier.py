"""An auditor's verdict comes from the chain alone, and a bundle can be re-checked anywhere."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, NewVersion, VersionRef
from ledger.errors import InvalidProofError
from ledger.hashing import Digest
from ledger.verifier import Verifier, check_bundle, write_bundle

DEPT_A, DEPT_B = 1, 2


def _register_by_sig(
    ledger: Ledger, actors: Any, content: bytes, deadline: int, *, signer: Any = None
) -> bytes:
    salt = os.urandom(32)
    first = NewVersion(content, os.urandom(32))
    metadata = bytes(32)
    auth = ledger.datasets.sign_create_dataset(
        salt,
        Classification.PUBLIC,
        metadata,
        first,
        signer=signer or actors.dept_a,
        department_id=DEPT_A,
        deadline=deadline,
    )
    ledger.datasets.create_dataset_by_sig(
        salt, Classification.PUBLIC, metadata, first, auth=auth, sender=actors.relayer
    )
    return ledger.datasets.dataset_id_of(DEPT_A, salt)


def test_a_registered_file_matches_and_is_attributed_to_the_departments_key(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    content = os.urandom(32)
    dataset_id = _register_by_sig(ledger, actors, content, deadline)

    verdict = Verifier.for_ledger(ledger).verify(content)

    assert verdict.matched and verdict.authentic
    [registration] = verdict.registrations
    assert registration.dataset_id == "0x" + dataset_id.hex()
    assert registration.version == 1 and registration.department_id == DEPT_A
    assert registration.authorised_by == "signature"
    assert registration.signer == registration.department_key == actors.dept_a.address
    assert registration.history_complete and not registration.withdrawn
    block = ledger.chain.w3.eth.get_block(registration.block_number)
    assert block["hash"].to_0x_hex() == registration.block_hash


def test_a_version_added_by_signature_is_attributed_to_the_key_that_signed_it(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    dataset_id = _register_by_sig(ledger, actors, os.urandom(32), deadline)
    content = os.urandom(32)
    version = NewVersion(content, os.urandom(32))
    auth = ledger.datasets.sign_add_version(
        dataset_id, version, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    ledger.datasets.add_version_by_sig(dataset_id, version, auth=auth, sender=actors.relayer)

    [registration] = Verifier.for_ledger(ledger).verify(content).registrations

    assert registration.version == 2 and registration.authorised_by == "signature"
    assert registration.signer == registration.department_key == actors.dept_a.address
    assert registration.typed_data["primaryType"] == "AddVersion"


def test_unregistered_bytes_do_not_match(ledger: Ledger) -> None:
    verdict = Verifier.for_ledger(ledger).verify(os.urandom(32))
    assert not verdict.matched and not verdict.authentic


def test_every_registration_of_the_same_bytes_is_reported_earliest_first(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    content = os.urandom(32)
    first = _register_by_sig(ledger, actors, content, deadline)
    salt = os.urandom(32)
    ledger.datasets.create_dataset(
        salt, Classification.INTERNAL, bytes(32),
        NewVersion(content, bytes(32), (VersionRef(first, 1),)), sender=actors.dept_b,
    )  # fmt: skip

    verdict = Verifier.for_ledger(ledger).verify(content)

    assert [r.department_id for r in verdict.registrations] == [DEPT_A, DEPT_B]
    second = verdict.registrations[1]
    assert second.authorised_by == "sender" and second.signer == actors.dept_b.address
    assert second.parents == [{"dataset_id": "0x" + first.hex(), "version": 1}]
    assert verdict.authentic


def test_a_registration_stays_attributed_to_the_key_of_its_time_after_rotation(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    from eth_account import Account

    old, new = actors.dept_a, Account.create()
    before = os.urandom(32)
    _register_by_sig(ledger, actors, before, deadline)
    ledger.departments.rotate_department_key(DEPT_A, new.address, sender=actors.governance)
    after = os.urandom(32)
    _register_by_sig(ledger, actors, after, deadline, signer=new)
    verifier = Verifier.for_ledger(ledger)

    [earlier] = verifier.verify(before).registrations
    [later] = verifier.verify(after).registrations

    assert earlier.signer == earlier.department_key == old.address and earlier.authentic
    assert later.signer == later.department_key == new.address and later.authentic
    assert later.department_id == earlier.department_id == DEPT_A


def test_a_node_withholding_a_version_log_is_caught_by_the_history_head(
    ledger: Ledger, actors: Any, deadline: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = os.urandom(32)
    dataset_id = _register_by_sig(ledger, actors, content, deadline)
    ledger.datasets.add_version(dataset_id, NewVersion(os.urandom(32)), sender=actors.dept_a)
    verifier = Verifier.for_ledger(ledger)
    assert verifier.history_is_complete(dataset_id)

    real = ledger.chain.w3.eth.get_logs
    monkeypatch.setattr(
        ledger.chain.w3.eth, "get_logs", lambda params: list(real(params))[:-1] or []
    )

    assert verifier.history_is_complete(dataset_id) is False


def test_a_bundle_round_trips_offline_and_against_the_chain(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    content = os.urandom(32)
    _register_by_sig(ledger, actors, content, deadline)
    verifier = Verifier.for_ledger(ledger)
    bundle = write_bundle(verifier.verify(content))

    offline = check_bundle(bundle, file_digest=Digest(content))
    online = check_bundle(bundle, file_digest=Digest(content), verifier=verifier)

    assert offline.authentic and online.authentic


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("registrations", 0, "signer"), "0x" + "11" * 20, "recovers to"),
        (("registrations", 0, "signature"), "0x" + "22" * 65, "recovers to|cannot be checked"),
        (("registrations", 0, "department_key"), "0x" + "33" * 20, "expected the department key"),
        (("registrations", 0, "block_hash"), "0x" + "44" * 32, "block_hash"),
        (("format",), "something-else/1", "expected a provledger-proof-bundle"),
    ],
)
def test_a_tampered_bundle_is_refused_saying_what_differs(
    ledger: Ledger, actors: Any, deadline: int, path: tuple[Any, ...], value: str, message: str
) -> None:
    content = os.urandom(32)
    _register_by_sig(ledger, actors, content, deadline)
    verifier = Verifier.for_ledger(ledger)
    document = json.loads(write_bundle(verifier.verify(content)))
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value

    with pytest.raises(InvalidProofError, match=message):
        check_bundle(json.dumps(document), verifier=verifier)


def test_a_bundle_is_scanned_for_depth_before_it_is_parsed() -> None:
    with pytest.raises(InvalidProofError, match="nests deeper than 32 levels"):
        check_bundle('{"format": ' + "[" * 50 + "]" * 50 + "}")


def test_a_bundle_for_other_bytes_is_refused(ledger: Ledger, actors: Any, deadline: int) -> None:
    content = os.urandom(32)
    _register_by_sig(ledger, actors, content, deadline)
    bundle = write_bundle(Verifier.for_ledger(ledger).verify(content))
    with pytest.raises(InvalidProofError, match="the file hashes to"):
        check_bundle(bundle, file_digest=Digest(os.urandom(32)))
