"""Reading access (no HTTP): a request's purpose for its parties and overseers only, the lists
by role, and whether a department has access, answered by the contract."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.errors import ResourceNotFoundError
from ledger.runtime import Runtime
from ledger.service import access_reads
from tests.ledger.service.conftest import AUDITOR, DEPT_A, DEPT_B, GOVERNANCE, ask, department


def test_the_purpose_of_a_request_is_for_its_parties_and_overseers_only(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    request = ledger_state["request"]
    for party in (department(DEPT_A), department(DEPT_B), AUDITOR, GOVERNANCE):
        answer = ask(runtime, party, access_reads.get_access_request, request)
        assert answer["purpose"] == "capacity planning" and answer["status"] == "pending"
    outsider = department(99)
    answer = ask(runtime, outsider, access_reads.get_access_request, request)
    assert answer["purpose"] is None and answer["texts_visible"] is False
    incoming = access_reads.RequestListing(role=access_reads.Role.INCOMING)
    assert [r["request_id"] for r in ask(runtime, department(DEPT_A),
            access_reads.list_access_requests, incoming)["items"]] == [request]  # fmt: skip
    assert (
        ask(runtime, department(DEPT_B), access_reads.list_access_requests, incoming)["items"] == []
    )


def test_has_access_answers_from_the_contract_and_refuses_blocks_not_mined(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    question = access_reads.AccessQuestion(ledger_state["dataset"], DEPT_B)
    assert ask(runtime, AUDITOR, access_reads.has_access, question)["has_access"] is False
    head, _ = runtime.chain.head()
    future = access_reads.AccessQuestion(ledger_state["dataset"], DEPT_B, head + 10)
    with pytest.raises(ResourceNotFoundError, match="not mined yet"):
        ask(runtime, AUDITOR, access_reads.has_access, future)
