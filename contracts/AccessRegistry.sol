// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessRegistry} from "./interfaces/IAccessRegistry.sol";
import {IDatasetRegistry} from "./interfaces/IDatasetRegistry.sol";
import {IDepartmentRegistry} from "./interfaces/IDepartmentRegistry.sol";
import {SignedActions} from "./utils/SignedActions.sol";

/// @title AccessRegistry
/// @notice Access requests and grants between departments, answered by dataset owners.
/// @dev A department holds at most one live grant per dataset, found through one pointer, so
/// `hasAccess` is a single lookup whatever the history.
contract AccessRegistry is IAccessRegistry, SignedActions {
    /// @notice Semantic version of this contract.
    string public constant VERSION = "0.1.0";
    /// @notice Longest access that may be requested: ten years.
    uint64 public constant MAX_DURATION = 3650 days;

    bytes32 public constant REQUEST_ACCESS_TYPEHASH = keccak256(
        "RequestAccess(uint64 departmentId,bytes32 salt,bytes32 datasetId,bytes32 purposeHash,"
        "uint64 requestedDuration,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant APPROVE_ACCESS_TYPEHASH = keccak256(
        "ApproveAccess(uint64 departmentId,bytes32 requestId,uint64 expiresAt,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant DENY_ACCESS_TYPEHASH = keccak256(
        "DenyAccess(uint64 departmentId,bytes32 requestId,bytes32 reasonHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant CANCEL_ACCESS_REQUEST_TYPEHASH =
        keccak256("CancelAccessRequest(uint64 departmentId,bytes32 requestId,uint256 nonce,uint256 deadline)");
    bytes32 public constant REVOKE_ACCESS_TYPEHASH = keccak256(
        "RevokeAccess(uint64 departmentId,bytes32 requestId,bytes32 reasonHash,uint256 nonce,uint256 deadline)"
    );

    IDatasetRegistry private immutable _datasets;
    mapping(bytes32 requestId => AccessRequest request) private _requests;
    mapping(bytes32 datasetId => mapping(uint64 departmentId => bytes32 requestId)) private _liveGrants;

    constructor(IDepartmentRegistry registry, IDatasetRegistry datasetRegistry)
        SignedActions(registry, "provledger.AccessRegistry", "1")
    {
        _datasets = datasetRegistry;
    }

    /// @notice The dataset registry whose datasets access is granted to.
    function datasets() external view returns (address) {
        return address(_datasets);
    }

    /// @inheritdoc IAccessRegistry
    function requestIdOf(uint64 departmentId, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(departmentId, salt));
    }

    /// @inheritdoc IAccessRegistry
    function requestAccess(bytes32 salt, bytes32 datasetId, bytes32 purposeHash, uint64 requestedDuration)
        external
        returns (bytes32)
    {
        return _requestAccess(_callerDepartment(), salt, datasetId, purposeHash, requestedDuration);
    }

    /// @inheritdoc IAccessRegistry
    function requestAccessBySig(
        bytes32 salt,
        bytes32 datasetId,
        bytes32 purposeHash,
        uint64 requestedDuration,
        Authorization calldata auth
    ) external returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                REQUEST_ACCESS_TYPEHASH,
                auth.departmentId,
                salt,
                datasetId,
                purposeHash,
                requestedDuration,
                auth.nonce,
                auth.deadline
            )
        );
        return _requestAccess(_signerDepartment(structHash, auth), salt, datasetId, purposeHash, requestedDuration);
    }

    /// @inheritdoc IAccessRegistry
    function approveAccess(bytes32 requestId, uint64 expiresAt) external {
        _approveAccess(_callerDepartment(), requestId, expiresAt);
    }

    /// @inheritdoc IAccessRegistry
    function approveAccessBySig(bytes32 requestId, uint64 expiresAt, Authorization calldata auth) external {
        bytes32 structHash = keccak256(
            abi.encode(APPROVE_ACCESS_TYPEHASH, auth.departmentId, requestId, expiresAt, auth.nonce, auth.deadline)
        );
        _approveAccess(_signerDepartment(structHash, auth), requestId, expiresAt);
    }

    /// @inheritdoc IAccessRegistry
    function denyAccess(bytes32 requestId, bytes32 reasonHash) external {
        _denyAccess(_callerDepartment(), requestId, reasonHash);
    }

    /// @inheritdoc IAccessRegistry
    function denyAccessBySig(bytes32 requestId, bytes32 reasonHash, Authorization calldata auth) external {
        bytes32 structHash = keccak256(
            abi.encode(DENY_ACCESS_TYPEHASH, auth.departmentId, requestId, reasonHash, auth.nonce, auth.deadline)
        );
        _denyAccess(_signerDepartment(structHash, auth), requestId, reasonHash);
    }

    /// @inheritdoc IAccessRegistry
    function cancelAccessRequest(bytes32 requestId) external {
        _cancelAccessRequest(_callerDepartment(), requestId);
    }

    /// @inheritdoc IAccessRegistry
    function cancelAccessRequestBySig(bytes32 requestId, Authorization calldata auth) external {
        bytes32 structHash = keccak256(
            abi.encode(CANCEL_ACCESS_REQUEST_TYPEHASH, auth.departmentId, requestId, auth.nonce, auth.deadline)
        );
        _cancelAccessRequest(_signerDepartment(structHash, auth), requestId);
    }

    /// @inheritdoc IAccessRegistry
    function revokeAccess(bytes32 requestId, bytes32 reasonHash) external {
        _revokeAccess(_callerDepartment(), requestId, reasonHash);
    }

    /// @inheritdoc IAccessRegistry
    function revokeAccessBySig(bytes32 requestId, bytes32 reasonHash, Authorization calldata auth) external {
        bytes32 structHash = keccak256(
            abi.encode(REVOKE_ACCESS_TYPEHASH, auth.departmentId, requestId, reasonHash, auth.nonce, auth.deadline)
        );
        _revokeAccess(_signerDepartment(structHash, auth), requestId, reasonHash);
    }

    /// @inheritdoc IAccessRegistry
    function accessRequest(bytes32 requestId) external view returns (AccessRequest memory) {
        return _requests[requestId];
    }

    /// @inheritdoc IAccessRegistry
    function accessHistory(bytes32 requestId) external view returns (bytes32 historyHead, uint32 eventCount) {
        AccessRequest storage request = _requests[requestId];
        return (request.historyHead, request.eventCount);
    }

    /// @inheritdoc IAccessRegistry
    function hasAccess(bytes32 datasetId, uint64 departmentId) external view returns (bool) {
        IDatasetRegistry.Dataset memory record = _datasets.dataset(datasetId);
        if (record.owner == 0 || record.withdrawn) return false;
        if (!_registry().isActive(departmentId)) return false;
        if (record.owner == departmentId) return true;
        bytes32 requestId = _liveGrants[datasetId][departmentId];
        if (requestId == bytes32(0)) return false;
        AccessRequest storage grant = _requests[requestId];
        return grant.status == RequestStatus.Approved && block.timestamp < grant.expiresAt;
    }

    function _requestAccess(
        uint64 departmentId,
        bytes32 salt,
        bytes32 datasetId,
        bytes32 purposeHash,
        uint64 requestedDuration
    ) private returns (bytes32 requestId) {
        IDatasetRegistry.Dataset memory record = _datasets.dataset(datasetId);
        if (record.owner == 0) revert IDatasetRegistry.DatasetUnknown(datasetId);
        if (record.withdrawn) revert IDatasetRegistry.DatasetIsWithdrawn(datasetId);
        if (record.owner == departmentId) revert AccessOwnDataset(datasetId);
        if (requestedDuration == 0 || requestedDuration > MAX_DURATION) revert AccessInvalidDuration(requestedDuration);
        requestId = requestIdOf(departmentId, salt);
        AccessRequest storage request = _requests[requestId];
        if (request.status != RequestStatus.None) revert AccessRequestExists(requestId);
        request.datasetId = datasetId;
        request.requester = departmentId;
        request.status = RequestStatus.Pending;
        request.requestedDuration = requestedDuration;
        _record(
            request,
            abi.encode(
                RequestStatus.Pending, datasetId, departmentId, salt, purposeHash, requestedDuration, block.timestamp
            )
        );
        emit AccessRequested(requestId, datasetId, departmentId, salt, purposeHash, requestedDuration);
    }

    function _approveAccess(uint64 departmentId, bytes32 requestId, uint64 expiresAt) private {
        AccessRequest storage request = _answerable(departmentId, requestId, RequestStatus.Pending);
        bytes32 datasetId = request.datasetId;
        if (_datasets.dataset(datasetId).withdrawn) revert IDatasetRegistry.DatasetIsWithdrawn(datasetId);
        uint256 latest = block.timestamp + request.requestedDuration;
        if (expiresAt <= block.timestamp || expiresAt > latest) {
            revert AccessInvalidExpiry(expiresAt, block.timestamp, latest);
        }
        uint64 requester = request.requester;
        request.status = RequestStatus.Approved;
        request.expiresAt = expiresAt;
        _record(request, abi.encode(RequestStatus.Approved, expiresAt, block.timestamp));
        bytes32 previous = _liveGrants[datasetId][requester];
        if (previous != bytes32(0) && _requests[previous].status == RequestStatus.Approved) {
            AccessRequest storage replaced = _requests[previous];
            replaced.status = RequestStatus.Superseded;
            _record(replaced, abi.encode(RequestStatus.Superseded, requestId, block.timestamp));
            emit AccessSuperseded(previous, datasetId, requester, requestId);
        }
        _liveGrants[datasetId][requester] = requestId;
        emit AccessApproved(requestId, datasetId, requester, expiresAt);
    }

    function _denyAccess(uint64 departmentId, bytes32 requestId, bytes32 reasonHash) private {
        AccessRequest storage request = _answerable(departmentId, requestId, RequestStatus.Pending);
        request.status = RequestStatus.Denied;
        _record(request, abi.encode(RequestStatus.Denied, reasonHash, block.timestamp));
        emit AccessDenied(requestId, request.datasetId, request.requester, reasonHash);
    }

    function _revokeAccess(uint64 departmentId, bytes32 requestId, bytes32 reasonHash) private {
        AccessRequest storage request = _answerable(departmentId, requestId, RequestStatus.Approved);
        request.status = RequestStatus.Revoked;
        _record(request, abi.encode(RequestStatus.Revoked, reasonHash, block.timestamp));
        if (_liveGrants[request.datasetId][request.requester] == requestId) {
            delete _liveGrants[request.datasetId][request.requester];
        }
        emit AccessRevoked(requestId, request.datasetId, request.requester, reasonHash);
    }

    function _cancelAccessRequest(uint64 departmentId, bytes32 requestId) private {
        AccessRequest storage request = _known(requestId);
        if (request.requester != departmentId) revert AccessNotRequester(requestId, departmentId);
        if (request.status != RequestStatus.Pending) revert AccessInvalidStatus(requestId, request.status);
        request.status = RequestStatus.Cancelled;
        _record(request, abi.encode(RequestStatus.Cancelled, block.timestamp));
        emit AccessRequestCancelled(requestId, request.datasetId, departmentId);
    }

    /// @dev Extends the request's history by one event: `step` is the event's kind, fields
    /// and block time, ABI-encoded (see `IAccessRegistry.AccessRequest.historyHead`).
    function _record(AccessRequest storage request, bytes memory step) private {
        request.historyHead = keccak256(bytes.concat(request.historyHead, step));
        // A request has at most three events (requested, answered, ended): no overflow.
        unchecked {
            ++request.eventCount;
        }
    }

    /// @dev A request the dataset's owner (`departmentId`) may act on, in status `expected`.
    function _answerable(uint64 departmentId, bytes32 requestId, RequestStatus expected)
        private
        view
        returns (AccessRequest storage request)
    {
        request = _known(requestId);
        IDatasetRegistry.Dataset memory record = _datasets.dataset(request.datasetId);
        if (record.owner != departmentId) revert AccessNotDatasetOwner(requestId, departmentId);
        if (request.status != expected) revert AccessInvalidStatus(requestId, request.status);
    }

    function _known(bytes32 requestId) private view returns (AccessRequest storage request) {
        request = _requests[requestId];
        if (request.status == RequestStatus.None) revert AccessUnknownRequest(requestId);
    }
}
