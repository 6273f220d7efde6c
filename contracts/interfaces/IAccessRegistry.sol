// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ISignedActions} from "./ISignedActions.sol";

/// @title IAccessRegistry
/// @notice Access requests between departments and the grants that answer them:
/// request -> approve (with expiry) / deny -> revoke, or cancel by the requester.
/// @dev A department holds at most one live grant per dataset. Approving a new request while
/// one is live supersedes it (status `Superseded`, event `AccessSuperseded`): the new approval
/// sets the terms, whether it extends or shortens access, and no stored status overstates it.
/// `hasAccess` is the on-chain answer to "may department D use dataset X now", evaluated
/// with block time, so `eth_call` at any block answers it for that block.
interface IAccessRegistry is ISignedActions {
    /// @notice Lifecycle of a request. `None` means unknown.
    enum RequestStatus {
        None,
        Pending,
        Approved,
        Denied,
        Cancelled,
        Revoked,
        Superseded
    }

    /// @notice An access request and, once approved, the grant it became.
    /// @param eventCount Number of events this request has emitted (its history's length).
    /// @param historyHead keccak256 chain over this request's events, oldest first, starting
    /// from zero. Each event moves it to `keccak256(abi.encode(previousHead, kind, ...,
    /// block.timestamp))`, where `kind` is the status the event leaves the request in and the
    /// fields are the event's own data (not its indexed ids, which the first step fixes):
    /// `AccessRequested`: kind Pending, datasetId, requester, salt, purposeHash,
    /// requestedDuration; `AccessApproved`: kind Approved, expiresAt; `AccessDenied`: kind
    /// Denied, reasonHash; `AccessRequestCancelled`: kind Cancelled; `AccessRevoked`: kind
    /// Revoked, reasonHash; `AccessSuperseded`: kind Superseded, supersededBy. A verifier
    /// recomputes it from the logs and their blocks' times; a withheld log (a hidden
    /// revocation) ends the chain elsewhere.
    struct AccessRequest {
        bytes32 datasetId;
        uint64 requester;
        RequestStatus status;
        uint64 requestedDuration;
        uint64 expiresAt;
        uint32 eventCount;
        bytes32 historyHead;
    }

    /// @notice Emitted when a department asks for access to another's dataset.
    event AccessRequested(
        bytes32 indexed requestId,
        bytes32 indexed datasetId,
        uint64 indexed requester,
        bytes32 salt,
        bytes32 purposeHash,
        uint64 requestedDuration
    );
    /// @notice Emitted when the owner approves a request; access lasts until `expiresAt`.
    event AccessApproved(
        bytes32 indexed requestId, bytes32 indexed datasetId, uint64 indexed requester, uint64 expiresAt
    );
    /// @notice Emitted when a newer approval replaces a department's live grant.
    event AccessSuperseded(
        bytes32 indexed requestId, bytes32 indexed datasetId, uint64 indexed requester, bytes32 supersededBy
    );
    /// @notice Emitted when the owner denies a request.
    event AccessDenied(bytes32 indexed requestId, bytes32 indexed datasetId, uint64 indexed requester, bytes32 reasonHash);
    /// @notice Emitted when the requester withdraws a pending request.
    event AccessRequestCancelled(bytes32 indexed requestId, bytes32 indexed datasetId, uint64 indexed requester);
    /// @notice Emitted when the owner revokes an approved grant before its expiry.
    event AccessRevoked(bytes32 indexed requestId, bytes32 indexed datasetId, uint64 indexed requester, bytes32 reasonHash);

    /// @notice A request with this id exists already.
    error AccessRequestExists(bytes32 requestId);
    /// @notice No request has this id.
    error AccessUnknownRequest(bytes32 requestId);
    /// @notice A department asked for access to its own dataset.
    error AccessOwnDataset(bytes32 datasetId);
    /// @notice Only the dataset's owner may answer or revoke.
    error AccessNotDatasetOwner(bytes32 requestId, uint64 departmentId);
    /// @notice Only the requester may cancel.
    error AccessNotRequester(bytes32 requestId, uint64 departmentId);
    /// @notice The request is not in a state that allows this action.
    error AccessInvalidStatus(bytes32 requestId, RequestStatus status);
    /// @notice The expiry is not after the block time, or later than the requested duration
    /// allows: an owner may grant less than was asked, never more.
    error AccessInvalidExpiry(uint64 expiresAt, uint256 blockTime, uint256 latest);
    /// @notice The requested duration is zero or above `MAX_DURATION`.
    error AccessInvalidDuration(uint64 duration);

    /// @notice The id a request by `departmentId` with `salt` gets.
    function requestIdOf(uint64 departmentId, bytes32 salt) external pure returns (bytes32);

    /// @notice Asks the owner of `datasetId` for access for `requestedDuration` seconds.
    function requestAccess(bytes32 salt, bytes32 datasetId, bytes32 purposeHash, uint64 requestedDuration)
        external
        returns (bytes32 requestId);
    /// @notice `requestAccess` authorized by signature.
    function requestAccessBySig(
        bytes32 salt,
        bytes32 datasetId,
        bytes32 purposeHash,
        uint64 requestedDuration,
        Authorization calldata auth
    ) external returns (bytes32 requestId);

    /// @notice The owner approves a pending request until `expiresAt` (block time, exclusive),
    /// at most `requestedDuration` seconds from now. Supersedes the requester's live grant.
    function approveAccess(bytes32 requestId, uint64 expiresAt) external;
    /// @notice `approveAccess` authorized by signature.
    function approveAccessBySig(bytes32 requestId, uint64 expiresAt, Authorization calldata auth) external;

    /// @notice The owner denies a pending request.
    function denyAccess(bytes32 requestId, bytes32 reasonHash) external;
    /// @notice `denyAccess` authorized by signature.
    function denyAccessBySig(bytes32 requestId, bytes32 reasonHash, Authorization calldata auth) external;

    /// @notice The requester cancels its pending request.
    function cancelAccessRequest(bytes32 requestId) external;
    /// @notice `cancelAccessRequest` authorized by signature.
    function cancelAccessRequestBySig(bytes32 requestId, Authorization calldata auth) external;

    /// @notice The owner revokes an approved grant.
    function revokeAccess(bytes32 requestId, bytes32 reasonHash) external;
    /// @notice `revokeAccess` authorized by signature.
    function revokeAccessBySig(bytes32 requestId, bytes32 reasonHash, Authorization calldata auth) external;

    /// @notice The stored request (status `None` if unknown).
    function accessRequest(bytes32 requestId) external view returns (AccessRequest memory);

    /// @notice The request's history: the head of the hash chain over its events and their
    /// number (zero and zero if unknown). See `AccessRequest.historyHead`.
    function accessHistory(bytes32 requestId) external view returns (bytes32 historyHead, uint32 eventCount);

    /// @notice True if `departmentId` may use `datasetId` at this block: it owns it, or holds an
    /// approved, unrevoked grant whose expiry is after the block time; the department must be
    /// active and the dataset not withdrawn.
    function hasAccess(bytes32 datasetId, uint64 departmentId) external view returns (bool);
}
