// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IDepartmentRegistry
/// @notice The roll of departments allowed to write to the provenance ledger, and the emergency
/// switch that pauses every department write across all provledger contracts.
/// @dev Governance enrols a department under a stable id chosen by governance, so an API can
/// name the department before the enrolment is mined. A signing key belongs to at most one
/// department, ever: a key that was once enrolled or rotated away can never be enrolled again,
/// which keeps old signatures from ever being attributed to another department.
interface IDepartmentRegistry {
    /// @notice Lifecycle of a department. `None` means never enrolled.
    enum DepartmentStatus {
        None,
        Active,
        Suspended
    }

    /// @notice A department as stored on chain (one storage slot).
    /// @param signer The address of the department's current signing key.
    /// @param status Active or suspended.
    /// @param enrolledAt Block time of enrolment.
    struct Department {
        address signer;
        DepartmentStatus status;
        uint64 enrolledAt;
    }

    /// @notice Emitted when governance enrols a department.
    event DepartmentEnrolled(uint64 indexed departmentId, address indexed signer, string name);

    /// @notice Emitted when governance replaces a department's signing key. Id and history stay.
    event DepartmentKeyRotated(uint64 indexed departmentId, address indexed previousSigner, address indexed newSigner);

    /// @notice Emitted when governance suspends a department: it can do nothing until reactivated.
    event DepartmentSuspended(uint64 indexed departmentId, bytes32 reasonHash);

    /// @notice Emitted when governance lifts a suspension.
    event DepartmentReactivated(uint64 indexed departmentId);

    /// @notice The id is zero or above 2**63 - 1; department ids run from 1 to 2**63 - 1.
    error DepartmentInvalidId(uint64 departmentId);
    /// @notice A department with this id is enrolled already.
    error DepartmentAlreadyEnrolled(uint64 departmentId);
    /// @notice No department with this id was ever enrolled.
    error DepartmentUnknown(uint64 departmentId);
    /// @notice The account is not the current signing key of any department.
    error DepartmentUnknownSigner(address account);
    /// @notice The department is suspended.
    error DepartmentInactive(uint64 departmentId);
    /// @notice Reactivation of a department that is not suspended.
    error DepartmentNotSuspended(uint64 departmentId);
    /// @notice The signing key is the zero address or was already used by a department.
    error DepartmentSignerUnavailable(address signer);
    /// @notice The department name is empty or longer than 128 bytes.
    error DepartmentInvalidName();

    /// @notice Enrols a new department under an id from 1 to 2**63 - 1. Governance only. Works
    /// while paused.
    function enrolDepartment(uint64 departmentId, string calldata name, address signer) external;

    /// @notice Replaces a department's signing key; signatures by the old key stop being valid.
    function rotateDepartmentKey(uint64 departmentId, address newSigner) external;

    /// @notice Suspends a department. Governance only. Works while paused.
    function suspendDepartment(uint64 departmentId, bytes32 reasonHash) external;

    /// @notice Lifts a suspension. Governance only.
    function reactivateDepartment(uint64 departmentId) external;

    /// @notice Pauses every department write in every provledger contract. Reads never pause.
    function pause() external;

    /// @notice Lifts the pause.
    function unpause() external;

    /// @notice The stored record of a department (status `None` if never enrolled).
    function department(uint64 departmentId) external view returns (Department memory);

    /// @notice The department whose current signing key is `account`, or 0.
    function departmentOf(address account) external view returns (uint64);

    /// @notice The department id of `account` if it may write now.
    /// @dev Reverts with `EnforcedPause` while paused, `DepartmentUnknownSigner` if `account` is
    /// not a department's current key, `DepartmentInactive` if suspended.
    function requireActiveDepartment(address account) external view returns (uint64 departmentId);

    /// @notice The current signing key of `departmentId` if the department may write now.
    /// @dev Reverts with `EnforcedPause`, `DepartmentUnknown` or `DepartmentInactive`.
    function requireActiveSigner(uint64 departmentId) external view returns (address signer);

    /// @notice True while the department is enrolled and not suspended (ignores the pause).
    function isActive(uint64 departmentId) external view returns (bool);
}
