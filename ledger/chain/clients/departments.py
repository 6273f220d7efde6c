"""The department registry client: governance's roll and the pause switch."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from ledger.chain.backend import Receipt
from ledger.chain.clients.base import ContractClient
from ledger.chain.types import (
    ZERO32,
    DepartmentRecord,
    DepartmentStatus,
    as_bytes32,
)


class DepartmentRegistryClient(ContractClient):
    """Governance's roll of departments and the pause switch."""

    artifact_name = "DepartmentRegistry"
    GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")
    PAUSER_ROLE = keccak(text="PAUSER_ROLE")

    def enrol_department(
        self, department_id: int, name: str, signer: str, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(
            self.contract.functions.enrolDepartment(department_id, name, signer), sender
        )

    def rotate_department_key(
        self, department_id: int, new_signer: str, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(
            self.contract.functions.rotateDepartmentKey(department_id, new_signer), sender
        )

    def suspend_department(
        self, department_id: int, reason_hash: bytes = ZERO32, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(
            self.contract.functions.suspendDepartment(
                department_id, as_bytes32(reason_hash, "reason hash")
            ),
            sender,
        )

    def reactivate_department(self, department_id: int, *, sender: LocalAccount) -> Receipt:
        return self._send(self.contract.functions.reactivateDepartment(department_id), sender)

    def pause(self, *, sender: LocalAccount) -> Receipt:
        return self._send(self.contract.functions.pause(), sender)

    def unpause(self, *, sender: LocalAccount) -> Receipt:
        return self._send(self.contract.functions.unpause(), sender)

    def grant_role(self, role: bytes, account: str, *, sender: LocalAccount) -> Receipt:
        return self._send(self.contract.functions.grantRole(role, account), sender)

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self._view(self.contract.functions.hasRole(role, account)))

    def paused(self) -> bool:
        return bool(self._view(self.contract.functions.paused()))

    def department(self, department_id: int) -> DepartmentRecord:
        signer, status, enrolled_at = self._view(self.contract.functions.department(department_id))
        return DepartmentRecord(
            department_id=department_id,
            signer=signer,
            status=DepartmentStatus(status),
            enrolled_at=enrolled_at,
        )

    def department_of(self, account: str) -> int:
        return int(self._view(self.contract.functions.departmentOf(account)))

    def is_active(self, department_id: int) -> bool:
        return bool(self._view(self.contract.functions.isActive(department_id)))
