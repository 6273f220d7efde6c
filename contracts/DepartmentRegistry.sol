// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IDepartmentRegistry} from "./interfaces/IDepartmentRegistry.sol";

/// @title DepartmentRegistry
/// @notice Governance's roll of departments and the ledger-wide pause switch.
/// @dev Roles: the default admin (transferred in two steps with a delay, per OpenZeppelin's
/// `AccessControlDefaultAdminRules`) grants `GOVERNOR_ROLE` (enrol, rotate, suspend, reactivate)
/// and `PAUSER_ROLE` (pause, unpause). Governance actions stay possible while paused: the pause
/// exists so governance can suspend a compromised department while nothing else moves.
contract DepartmentRegistry is IDepartmentRegistry, AccessControlDefaultAdminRules, Pausable {
    /// @notice Semantic version of this contract.
    string public constant VERSION = "0.1.0";
    /// @notice May enrol, rotate, suspend and reactivate departments.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice May pause and unpause every department write.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice Longest department name, in bytes.
    uint256 public constant MAX_NAME_LENGTH = 128;
    // Largest department id, 2**63 - 1: ids must also fit the signed 64-bit integers of SQL
    // indexes (PostgreSQL has no unsigned BIGINT). Private: a public getter would add a selector
    // to the dispatcher and 22 gas to every department check the other contracts make.
    uint64 private constant MAX_DEPARTMENT_ID = type(uint64).max >> 1;

    mapping(uint64 departmentId => Department record) private _departments;
    // Every key ever enrolled maps to its department, forever; see `_claimSigner`.
    mapping(address signer => uint64 departmentId) private _signers;

    /// @param admin Initial default admin, also granted the governor and pauser roles.
    /// @param adminTransferDelay Seconds a new default admin must wait before accepting.
    constructor(address admin, uint48 adminTransferDelay) AccessControlDefaultAdminRules(adminTransferDelay, admin) {
        _grantRole(GOVERNOR_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    /// @inheritdoc IDepartmentRegistry
    function enrolDepartment(uint64 departmentId, string calldata name, address signer)
        external
        onlyRole(GOVERNOR_ROLE)
    {
        if (departmentId == 0 || departmentId > MAX_DEPARTMENT_ID) revert DepartmentInvalidId(departmentId);
        if (_departments[departmentId].status != DepartmentStatus.None) revert DepartmentAlreadyEnrolled(departmentId);
        uint256 nameLength = bytes(name).length;
        if (nameLength == 0 || nameLength > MAX_NAME_LENGTH) revert DepartmentInvalidName();
        _claimSigner(signer, departmentId);
        _departments[departmentId] =
            Department({signer: signer, status: DepartmentStatus.Active, enrolledAt: uint64(block.timestamp)});
        emit DepartmentEnrolled(departmentId, signer, name);
    }

    /// @inheritdoc IDepartmentRegistry
    function rotateDepartmentKey(uint64 departmentId, address newSigner) external onlyRole(GOVERNOR_ROLE) {
        Department storage record = _enrolled(departmentId);
        address previous = record.signer;
        _claimSigner(newSigner, departmentId);
        record.signer = newSigner;
        emit DepartmentKeyRotated(departmentId, previous, newSigner);
    }

    /// @inheritdoc IDepartmentRegistry
    function suspendDepartment(uint64 departmentId, bytes32 reasonHash) external onlyRole(GOVERNOR_ROLE) {
        Department storage record = _enrolled(departmentId);
        if (record.status != DepartmentStatus.Active) revert DepartmentInactive(departmentId);
        record.status = DepartmentStatus.Suspended;
        emit DepartmentSuspended(departmentId, reasonHash);
    }

    /// @inheritdoc IDepartmentRegistry
    function reactivateDepartment(uint64 departmentId) external onlyRole(GOVERNOR_ROLE) {
        Department storage record = _enrolled(departmentId);
        if (record.status != DepartmentStatus.Suspended) revert DepartmentNotSuspended(departmentId);
        record.status = DepartmentStatus.Active;
        emit DepartmentReactivated(departmentId);
    }

    /// @inheritdoc IDepartmentRegistry
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IDepartmentRegistry
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc IDepartmentRegistry
    function department(uint64 departmentId) external view returns (Department memory) {
        return _departments[departmentId];
    }

    /// @inheritdoc IDepartmentRegistry
    function departmentOf(address account) public view returns (uint64) {
        uint64 departmentId = _signers[account];
        // A rotated-away key still maps to its department (so it can never be reused) but no
        // longer speaks for it.
        if (departmentId == 0 || _departments[departmentId].signer != account) return 0;
        return departmentId;
    }

    /// @inheritdoc IDepartmentRegistry
    function requireActiveDepartment(address account) external view returns (uint64 departmentId) {
        _requireNotPaused();
        departmentId = departmentOf(account);
        if (departmentId == 0) revert DepartmentUnknownSigner(account);
        if (_departments[departmentId].status != DepartmentStatus.Active) revert DepartmentInactive(departmentId);
    }

    /// @inheritdoc IDepartmentRegistry
    function requireActiveSigner(uint64 departmentId) external view returns (address signer) {
        _requireNotPaused();
        Department storage record = _enrolled(departmentId);
        if (record.status != DepartmentStatus.Active) revert DepartmentInactive(departmentId);
        return record.signer;
    }

    /// @inheritdoc IDepartmentRegistry
    function isActive(uint64 departmentId) external view returns (bool) {
        return _departments[departmentId].status == DepartmentStatus.Active;
    }

    function _enrolled(uint64 departmentId) private view returns (Department storage record) {
        record = _departments[departmentId];
        if (record.status == DepartmentStatus.None) revert DepartmentUnknown(departmentId);
    }

    function _claimSigner(address signer, uint64 departmentId) private {
        if (signer == address(0) || _signers[signer] != 0) revert DepartmentSignerUnavailable(signer);
        _signers[signer] = departmentId;
    }
}
