"""Reading departments (no HTTP): anyone reads who is in the consortium; a department reads its
own signature nonces only."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.errors import ResourceNotFoundError
from ledger.runtime import Runtime
from ledger.service import department_reads
from tests.ledger.service.conftest import AUDITOR, DEPT_A, DEPT_B, ask, department


def test_a_department_reads_its_own_signature_nonces_only(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    nonces = ask(runtime, department(DEPT_A), department_reads.signature_nonces, DEPT_A)
    assert nonces["nonces"]["DatasetRegistry"]["next_nonce"] >= 1
    with pytest.raises(ResourceNotFoundError):
        ask(runtime, department(DEPT_B), department_reads.signature_nonces, DEPT_A)
    with pytest.raises(ResourceNotFoundError, match="no department 77"):
        ask(runtime, AUDITOR, department_reads.get_department, 77)
