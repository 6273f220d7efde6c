"""Where a write stands (no HTTP): an operation or a batched record, seen by its department and
governance only, with chain coordinates once mined."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from ledger.relayer import OperationStatus
from ledger.runtime import Runtime
from ledger.service.operations import find_operation
from tests.ledger.service.conftest import AUDITOR, DEPT_A, DEPT_B, GOVERNANCE, department


def test_an_operation_is_seen_by_its_department_and_governance_only(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    op_id = ledger_state["request_op"]
    with Session(runtime.engine) as session:
        mine = find_operation(session, runtime, department(DEPT_B), op_id)
        assert mine is not None and mine.status == OperationStatus.CONFIRMED
        assert mine.confirmations >= runtime.settings.confirmations
        assert find_operation(session, runtime, GOVERNANCE, op_id) is not None
        assert find_operation(session, runtime, department(DEPT_A), op_id) is None
        assert find_operation(session, runtime, AUDITOR, op_id) is None
        record = find_operation(session, runtime, department(DEPT_A), ledger_state["batched_op"])
    assert record is not None and record.kind == "datasets.create"
    assert record.result["batch"]["leaf_index"] == 0 and record.chain.tx_hash is not None
