"""An access proof says whether department B held a grant to dataset D at time T, and a bundle
that hides a revocation, claims another head, leaves out a request or lies about its verdict
fails its check, each with its named error."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pytest

from ledger.access_proof import (
    RequestEvent,
    RequestHistory,
    check_access_proof,
    history_head,
    prove_access,
    verdict_at,
)
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, NewVersion
from ledger.errors import (
    AccessProofChainError,
    AccessProofError,
    AccessProofHeadError,
    AccessProofHistoryError,
    AccessProofIncompleteError,
    AccessProofMalformedError,
    AccessProofVerdictError,
    InvalidInputError,
)

DEPT_A, DEPT_B = 1, 2
DAY = 86_400


@dataclass(frozen=True)
class Story:
    """A's dataset; B asked, was approved at ``approved_at`` until ``expires_at`` and revoked
    at ``revoked_at``."""

    dataset_id: bytes
    request_id: bytes
    asked_at: int
    approved_at: int
    expires_at: int
    revoked_at: int


def _time_of(ledger: Ledger, block_number: int) -> int:
    return int(ledger.chain.w3.eth.get_block(block_number)["timestamp"])


@pytest.fixture
def story(ledger: Ledger, actors: Any) -> Story:
    salt = os.urandom(32)
    ledger.datasets.create_dataset(
        salt,
        Classification.RESTRICTED,
        os.urandom(32),
        NewVersion(os.urandom(32)),
        sender=actors.dept_a,
    )
    dataset_id = ledger.datasets.dataset_id_of(DEPT_A, salt)
    asked = ledger.access.request_access(
        salt, dataset_id, os.urandom(32), 30 * DAY, sender=actors.dept_b
    )
    request_id = ledger.access.request_id_of(DEPT_B, salt)
    ledger.chain.advance_time(100)
    expires_at = ledger.chain.block_time() + 10 * DAY
    approved = ledger.access.approve_access(request_id, expires_at, sender=actors.dept_a)
    ledger.chain.advance_time(DAY)
    revoked = ledger.access.revoke_access(request_id, os.urandom(32), sender=actors.dept_a)
    ledger.chain.advance_time(100)
    return Story(
        dataset_id=dataset_id,
        request_id=request_id,
        asked_at=_time_of(ledger, asked.block_number),
        approved_at=_time_of(ledger, approved.block_number),
        expires_at=expires_at,
        revoked_at=_time_of(ledger, revoked.block_number),
    )


def _prove(ledger: Ledger, story: Story, at: int) -> str:
    proof = prove_access(ledger.chain, ledger.access.address, story.dataset_id, DEPT_B, at)
    return proof.to_json()


def _check(ledger: Ledger, text: str) -> Any:
    return check_access_proof(text, chain=ledger.chain, contract=ledger.access.address)


def test_held_between_approval_and_revocation(ledger: Ledger, story: Story) -> None:
    text = _prove(ledger, story, story.approved_at + 60)

    proof = _check(ledger, text)

    assert proof.verdict.held is True and proof.verdict.reason == "granted"
    grant = proof.verdict.grant
    assert grant is not None
    assert (grant.request_id, grant.approved_at, grant.expires_at, grant.ended) == (
        "0x" + story.request_id.hex(),
        story.approved_at,
        story.expires_at,
        None,
    )
    (request,) = proof.requests
    assert [e.event for e in request.events] == [
        "AccessRequested",
        "AccessApproved",
        "AccessRevoked",
    ]
    assert request.event_count == 3
    assert request.history_head == "0x" + ledger.access.access_history(story.request_id)[0].hex()
    # The contract agrees with the verdict at a block of that time.
    assert ledger.access.has_access(story.dataset_id, DEPT_B, block=request.events[1].block_number)


def test_held_at_the_very_second_of_the_approval(ledger: Ledger, story: Story) -> None:
    assert _check(ledger, _prove(ledger, story, story.approved_at)).verdict.held is True


def test_not_held_before_the_approval(ledger: Ledger, story: Story) -> None:
    proof = _check(ledger, _prove(ledger, story, story.approved_at - 1))

    assert (proof.verdict.held, proof.verdict.reason, proof.verdict.grant) == (
        False,
        "never-granted",
        None,
    )


def test_not_held_after_the_revocation(ledger: Ledger, story: Story) -> None:
    proof = _check(ledger, _prove(ledger, story, story.revoked_at))

    assert (proof.verdict.held, proof.verdict.reason) == (False, "revoked")
    grant = proof.verdict.grant
    assert grant is not None and (grant.ended, grant.ended_at) == ("revoked", story.revoked_at)


def test_not_held_by_a_department_that_never_asked(ledger: Ledger, story: Story) -> None:
    proof = prove_access(
        ledger.chain, ledger.access.address, story.dataset_id, 3, story.approved_at
    )

    checked = _check(ledger, proof.to_json())

    assert (checked.requests, checked.verdict.held, checked.verdict.reason) == (
        (),
        False,
        "never-granted",
    )


def test_a_superseded_grant_hands_over_to_the_newer_one_and_an_expired_one_is_not_held(
    ledger: Ledger, actors: Any, story: Story
) -> None:
    def ask(label: str) -> bytes:
        salt = os.urandom(32)
        ledger.access.request_access(
            salt, story.dataset_id, os.urandom(32), DAY, sender=actors.dept_b
        )
        return ledger.access.request_id_of(DEPT_B, salt)

    first, second = ask("first"), ask("second")
    approved = ledger.access.approve_access(
        first, ledger.chain.block_time() + DAY, sender=actors.dept_a
    )
    first_at = _time_of(ledger, approved.block_number)
    ledger.chain.advance_time(100)
    expires_at = ledger.chain.block_time() + 300
    ledger.access.approve_access(second, expires_at, sender=actors.dept_a)
    ledger.chain.advance_time(100)

    between = _check(ledger, _prove(ledger, story, first_at + 50)).verdict
    assert between.held and between.grant is not None
    assert between.grant.request_id == "0x" + first.hex()
    now = _check(ledger, _prove(ledger, story, ledger.chain.block_time())).verdict
    assert now.held and now.grant is not None
    assert now.grant.request_id == "0x" + second.hex()

    ledger.chain.advance_time(400)
    over = _check(ledger, _prove(ledger, story, expires_at)).verdict
    assert (over.held, over.reason) == (False, "expired")  # over at the second of its expiry


def test_a_proof_needs_a_block_at_or_after_its_time(ledger: Ledger, story: Story) -> None:
    with pytest.raises(InvalidInputError, match="has not reached"):
        _prove(ledger, story, ledger.chain.block_time() + DAY)


def _edited(text: str, edit: Any) -> str:
    document = json.loads(text)
    edit(document)
    return json.dumps(document)


def _reverdict(document: dict[str, Any]) -> None:
    """The verdict the document's events give, as a forger would write it."""
    histories = [
        RequestHistory(
            request_id=r["request_id"],
            history_head=r["history_head"],
            event_count=r["event_count"],
            events=tuple(RequestEvent(**e) for e in r["events"]),
        )
        for r in document["requests"]
    ]
    document["verdict"] = verdict_at(histories, document["at"]).to_dict()


def _without_revocation(document: dict[str, Any], *, rehash: bool) -> None:
    (request,) = document["requests"]
    request["events"] = [e for e in request["events"] if e["event"] != "AccessRevoked"]
    if rehash:  # a consistent forgery: head, count and verdict made to match the events
        events = [RequestEvent(**e) for e in request["events"]]
        request["history_head"] = "0x" + history_head(events).hex()
        request["event_count"] = len(events)


def test_a_bundle_with_its_revocation_removed_fails(ledger: Ledger, story: Story) -> None:
    text = _prove(ledger, story, story.revoked_at + 10)

    hidden = _edited(text, lambda d: _without_revocation(d, rehash=False))
    with pytest.raises(AccessProofHistoryError, match="an event is missing"):
        check_access_proof(hidden)  # offline already

    def forge(document: dict[str, Any]) -> None:
        _without_revocation(document, rehash=True)
        _reverdict(document)

    forged = _edited(text, forge)
    assert json.loads(forged)["verdict"]["held"] is True
    check_access_proof(forged)  # consistent in itself: only the chain tells
    with pytest.raises(AccessProofHeadError, match="the contract stores"):
        _check(ledger, forged)


def test_a_bundle_claiming_another_head_fails(ledger: Ledger, story: Story) -> None:
    text = _prove(ledger, story, story.approved_at + 60)
    other = "0x" + os.urandom(32).hex()

    def claim(document: dict[str, Any]) -> None:
        document["requests"][0]["history_head"] = other

    with pytest.raises(AccessProofHistoryError):
        check_access_proof(_edited(text, claim))


def test_a_bundle_leaving_out_a_request_fails(ledger: Ledger, story: Story) -> None:
    text = _prove(ledger, story, story.revoked_at + 10)

    def drop(document: dict[str, Any]) -> None:
        document["requests"] = []
        document["verdict"] = {"held": False, "reason": "never-granted", "grant": None}

    with pytest.raises(AccessProofIncompleteError, match="leaves out"):
        _check(ledger, _edited(text, drop))


def test_a_live_grant_left_out_is_found_in_state_even_when_the_node_withholds_its_logs(
    ledger: Ledger, actors: Any, story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.access_proof import node

    salt = os.urandom(32)
    ledger.access.request_access(salt, story.dataset_id, os.urandom(32), DAY, sender=actors.dept_b)
    live = ledger.access.request_id_of(DEPT_B, salt)
    ledger.access.approve_access(live, ledger.chain.block_time() + DAY, sender=actors.dept_a)
    text = _prove(ledger, story, ledger.chain.block_time())
    assert json.loads(text)["verdict"]["held"] is True

    def hide(document: dict[str, Any]) -> None:  # the live grant's logs withheld
        document["requests"] = [
            r for r in document["requests"] if r["request_id"] != "0x" + live.hex()
        ]
        _reverdict(document)

    hidden = _edited(text, hide)
    monkeypatch.setattr(node, "_request_ids", lambda *args, **kwargs: [story.request_id])
    with pytest.raises(AccessProofIncompleteError, match=live.hex()):
        _check(ledger, hidden)


def test_a_bundle_claiming_another_verdict_fails(ledger: Ledger, story: Story) -> None:
    text = _prove(ledger, story, story.revoked_at + 10)

    def flip(document: dict[str, Any]) -> None:
        document["verdict"]["held"] = True
        document["verdict"]["reason"] = "granted"

    with pytest.raises(AccessProofVerdictError, match="the events give revoked"):
        check_access_proof(_edited(text, flip))


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: d.update(chain_id=d["chain_id"] + 1), "the node serves chain"),
        (lambda d: d["block"].update(hash="0x" + "11" * 32), "the state block"),
        (
            lambda d: d["requests"][0]["events"][0].update(tx_hash="0x" + "22" * 32),
            "the chain has no transaction",
        ),
        (
            lambda d: d["requests"][0]["events"][2].update(log_index=7),
            "tx 0x",
        ),
    ],
    ids=["chain", "block", "tx", "log"],
)
def test_a_bundle_placing_things_where_the_chain_has_none_fails(
    ledger: Ledger, story: Story, edit: Any, problem: str
) -> None:
    text = _prove(ledger, story, story.approved_at + 60)

    with pytest.raises(AccessProofChainError, match=problem):
        _check(ledger, _edited(text, edit))


def test_a_bundle_for_another_contract_or_garbage_is_refused(ledger: Ledger, story: Story) -> None:
    text = _prove(ledger, story, story.approved_at + 60)

    with pytest.raises(AccessProofChainError, match="expected"):
        check_access_proof(text, contract=ledger.datasets.address)
    for garbage in ("", "[]", '{"format": "other"}', text.replace('"events"', '"evts"')):
        with pytest.raises(AccessProofMalformedError):
            check_access_proof(garbage)


def test_every_access_proof_error_has_its_own_stable_code() -> None:
    from ledger import errors

    family = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, AccessProofError)
    ]
    assert {cls.__name__: cls.code for cls in family} == {
        "AccessProofError": "access-proof-invalid",
        "AccessProofMalformedError": "access-proof-malformed",
        "AccessProofHistoryError": "access-proof-history-mismatch",
        "AccessProofHeadError": "access-proof-head-mismatch",
        "AccessProofIncompleteError": "access-proof-incomplete",
        "AccessProofVerdictError": "access-proof-verdict-mismatch",
        "AccessProofChainError": "access-proof-not-on-chain",
    }
