// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDepartmentRegistry} from "./interfaces/IDepartmentRegistry.sol";
import {IDatasetRegistry} from "./interfaces/IDatasetRegistry.sol";
import {SignedActions} from "./utils/SignedActions.sol";

/// @title DatasetRegistry
/// @notice Datasets, their append-only versions and their lineage.
contract DatasetRegistry is IDatasetRegistry, SignedActions {
    /// @notice Semantic version of this contract.
    string public constant VERSION = "0.1.0";
    /// @notice Highest classification value (0 public, 1 internal, 2 restricted, 3 confidential).
    uint8 public constant MAX_CLASSIFICATION = 3;
    /// @notice Most parents one version may declare; bounds the gas of the existence checks.
    uint256 public constant MAX_PARENTS = 64;

    bytes32 public constant VERSION_REF_TYPEHASH = keccak256("VersionRef(bytes32 datasetId,uint32 version)");
    bytes32 public constant CREATE_DATASET_TYPEHASH = keccak256(
        "CreateDataset(uint64 departmentId,bytes32 salt,uint8 classification,bytes32 metadataHash,"
        "bytes32 contentHash,bytes32 versionMetadataHash,VersionRef[] parents,uint256 nonce,uint256 deadline)"
        "VersionRef(bytes32 datasetId,uint32 version)"
    );
    bytes32 public constant ADD_VERSION_TYPEHASH = keccak256(
        "AddVersion(uint64 departmentId,bytes32 datasetId,bytes32 contentHash,bytes32 metadataHash,"
        "VersionRef[] parents,uint256 nonce,uint256 deadline)VersionRef(bytes32 datasetId,uint32 version)"
    );
    bytes32 public constant WITHDRAW_DATASET_TYPEHASH = keccak256(
        "WithdrawDataset(uint64 departmentId,bytes32 datasetId,bytes32 reasonHash,uint256 nonce,uint256 deadline)"
    );

    mapping(bytes32 datasetId => Dataset record) private _datasets;

    constructor(IDepartmentRegistry registry) SignedActions(registry, "provledger.DatasetRegistry", "1") {}

    /// @inheritdoc IDatasetRegistry
    function datasetIdOf(uint64 departmentId, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(departmentId, salt));
    }

    /// @inheritdoc IDatasetRegistry
    function createDataset(bytes32 salt, uint8 classification, bytes32 metadataHash, NewVersion calldata first)
        external
        returns (bytes32)
    {
        return _createDataset(_callerDepartment(), salt, classification, metadataHash, first, _hashParents(first.parents));
    }

    /// @inheritdoc IDatasetRegistry
    function createDatasetBySig(
        bytes32 salt,
        uint8 classification,
        bytes32 metadataHash,
        NewVersion calldata first,
        Authorization calldata auth
    ) external returns (bytes32) {
        bytes32 parentsHash = _hashParents(first.parents);
        bytes32 structHash = keccak256(
            abi.encode(
                CREATE_DATASET_TYPEHASH,
                auth.departmentId,
                salt,
                classification,
                metadataHash,
                first.contentHash,
                first.metadataHash,
                parentsHash,
                auth.nonce,
                auth.deadline
            )
        );
        uint64 departmentId = _signerDepartment(structHash, auth);
        return _createDataset(departmentId, salt, classification, metadataHash, first, parentsHash);
    }

    /// @inheritdoc IDatasetRegistry
    function addVersion(bytes32 datasetId, NewVersion calldata version) external returns (uint32) {
        return _addVersion(_callerDepartment(), datasetId, version, _hashParents(version.parents));
    }

    /// @inheritdoc IDatasetRegistry
    function addVersionBySig(bytes32 datasetId, NewVersion calldata version, Authorization calldata auth)
        external
        returns (uint32)
    {
        bytes32 parentsHash = _hashParents(version.parents);
        bytes32 structHash = keccak256(
            abi.encode(
                ADD_VERSION_TYPEHASH,
                auth.departmentId,
                datasetId,
                version.contentHash,
                version.metadataHash,
                parentsHash,
                auth.nonce,
                auth.deadline
            )
        );
        return _addVersion(_signerDepartment(structHash, auth), datasetId, version, parentsHash);
    }

    /// @inheritdoc IDatasetRegistry
    function withdrawDataset(bytes32 datasetId, bytes32 reasonHash) external {
        _withdrawDataset(_callerDepartment(), datasetId, reasonHash);
    }

    /// @inheritdoc IDatasetRegistry
    function withdrawDatasetBySig(bytes32 datasetId, bytes32 reasonHash, Authorization calldata auth) external {
        bytes32 structHash = keccak256(
            abi.encode(WITHDRAW_DATASET_TYPEHASH, auth.departmentId, datasetId, reasonHash, auth.nonce, auth.deadline)
        );
        _withdrawDataset(_signerDepartment(structHash, auth), datasetId, reasonHash);
    }

    /// @inheritdoc IDatasetRegistry
    function dataset(bytes32 datasetId) external view returns (Dataset memory) {
        return _datasets[datasetId];
    }

    /// @inheritdoc IDatasetRegistry
    function versionExists(VersionRef calldata ref) public view returns (bool) {
        return ref.version != 0 && ref.version <= _datasets[ref.datasetId].versionCount;
    }

    function _createDataset(
        uint64 departmentId,
        bytes32 salt,
        uint8 classification,
        bytes32 metadataHash,
        NewVersion calldata first,
        bytes32 parentsHash
    ) private returns (bytes32 datasetId) {
        if (classification > MAX_CLASSIFICATION) revert DatasetInvalidClassification(classification);
        datasetId = datasetIdOf(departmentId, salt);
        Dataset storage record = _datasets[datasetId];
        if (record.owner != 0) revert DatasetAlreadyExists(datasetId);
        record.owner = departmentId;
        record.classification = classification;
        record.createdAt = uint64(block.timestamp);
        emit DatasetCreated(datasetId, departmentId, salt, classification, metadataHash);
        _appendVersion(record, datasetId, departmentId, first, parentsHash);
    }

    function _addVersion(uint64 departmentId, bytes32 datasetId, NewVersion calldata version, bytes32 parentsHash)
        private
        returns (uint32)
    {
        Dataset storage record = _ownedActive(departmentId, datasetId);
        return _appendVersion(record, datasetId, departmentId, version, parentsHash);
    }

    function _withdrawDataset(uint64 departmentId, bytes32 datasetId, bytes32 reasonHash) private {
        Dataset storage record = _ownedActive(departmentId, datasetId);
        record.withdrawn = true;
        emit DatasetWithdrawn(datasetId, departmentId, reasonHash);
    }

    function _ownedActive(uint64 departmentId, bytes32 datasetId) private view returns (Dataset storage record) {
        record = _datasets[datasetId];
        if (record.owner == 0) revert DatasetUnknown(datasetId);
        if (record.owner != departmentId) revert DatasetNotOwner(datasetId, departmentId);
        if (record.withdrawn) revert DatasetIsWithdrawn(datasetId);
    }

    /// @dev `parentsHash` is `_hashParents(v.parents)`, computed once by the caller because the
    /// signature path needs it too.
    function _appendVersion(
        Dataset storage record,
        bytes32 datasetId,
        uint64 departmentId,
        NewVersion calldata v,
        bytes32 parentsHash
    ) private returns (uint32 number) {
        if (v.contentHash == bytes32(0)) revert DatasetZeroContentHash();
        uint256 parentCount = v.parents.length;
        if (parentCount > MAX_PARENTS) revert DatasetTooManyParents(parentCount, MAX_PARENTS);
        // Parents are checked before the count moves, so a version can never name itself.
        for (uint256 i = 0; i < parentCount; ++i) {
            VersionRef calldata parent = v.parents[i];
            if (!versionExists(parent)) revert DatasetUnknownParent(parent.datasetId, parent.version);
        }
        uint32 previous = record.versionCount;
        if (previous == type(uint32).max) revert DatasetTooManyVersions(datasetId);
        number = previous + 1;
        record.versionCount = number;
        bytes32 head = keccak256(abi.encode(record.historyHead, v.contentHash, v.metadataHash, parentsHash));
        record.historyHead = head;
        emit VersionAdded(datasetId, v.contentHash, departmentId, number, v.metadataHash, v.parents, head);
    }

    /// @dev EIP-712 encoding of a `VersionRef[]`: keccak256 of the concatenated struct hashes.
    /// The history chain reuses it, so one encoding of lineage serves both.
    function _hashParents(VersionRef[] calldata parents) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](parents.length);
        for (uint256 i = 0; i < parents.length; ++i) {
            hashes[i] = keccak256(abi.encode(VERSION_REF_TYPEHASH, parents[i].datasetId, parents[i].version));
        }
        return keccak256(abi.encodePacked(hashes));
    }
}
