// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ISignedActions} from "./ISignedActions.sol";

/// @title IDatasetRegistry
/// @notice Datasets owned by departments and their append-only versions, with lineage.
/// @dev Only what must be enforced on chain is stored: who owns a dataset, how many versions it
/// has (so parents can be checked), whether it is withdrawn, and a hash chain over its versions.
/// Everything else travels in events, which carry all that is needed to rebuild the history
/// off chain. `VersionAdded` indexes the content hash, so anyone can find every registration of
/// some bytes with `eth_getLogs` on any node. The stored `historyHead` lets an auditor prove the
/// version list a node returned is complete: recomputing the chain from the events must end at
/// the head the contract stores.
interface IDatasetRegistry is ISignedActions {
    /// @notice A reference to one version of one dataset. Versions are numbered from 1.
    struct VersionRef {
        bytes32 datasetId;
        uint32 version;
    }

    /// @notice A version to append.
    /// @param contentHash SHA-256 of the exact bytes of the data.
    /// @param metadataHash SHA-256 of the version's canonical (RFC 8785) JSON metadata.
    /// @param parents The versions this one was derived from; each must exist.
    struct NewVersion {
        bytes32 contentHash;
        bytes32 metadataHash;
        VersionRef[] parents;
    }

    /// @notice A dataset as stored on chain.
    /// @param owner The department that created it; only it may append or withdraw.
    /// @param versionCount Number of versions (the latest version's number).
    /// @param classification 0 public, 1 internal, 2 restricted, 3 confidential.
    /// @param withdrawn True once withdrawn; withdrawal is final and deletes nothing.
    /// @param createdAt Block time of creation.
    /// @param historyHead keccak256 chain over every version (see `VersionAdded`).
    struct Dataset {
        uint64 owner;
        uint32 versionCount;
        uint8 classification;
        bool withdrawn;
        uint64 createdAt;
        bytes32 historyHead;
    }

    /// @notice Emitted when a department creates a dataset. Its first version follows in the
    /// same transaction as `VersionAdded` with version 1.
    event DatasetCreated(
        bytes32 indexed datasetId, uint64 indexed owner, bytes32 salt, uint8 classification, bytes32 metadataHash
    );

    /// @notice Emitted for every version appended.
    /// @param historyHead keccak256(abi.encode(previousHead, contentHash, metadataHash,
    /// parentsHash)), previousHead zero for version 1, parentsHash the EIP-712 hash of the
    /// `VersionRef[]` (keccak256 of the concatenated VersionRef struct hashes).
    event VersionAdded(
        bytes32 indexed datasetId,
        bytes32 indexed contentHash,
        uint64 indexed department,
        uint32 version,
        bytes32 metadataHash,
        VersionRef[] parents,
        bytes32 historyHead
    );

    /// @notice Emitted when the owner withdraws a dataset. Nothing is deleted.
    event DatasetWithdrawn(bytes32 indexed datasetId, uint64 indexed department, bytes32 reasonHash);

    /// @notice A dataset with this id exists already.
    error DatasetAlreadyExists(bytes32 datasetId);
    /// @notice No dataset has this id.
    error DatasetUnknown(bytes32 datasetId);
    /// @notice Only the owning department may do this.
    error DatasetNotOwner(bytes32 datasetId, uint64 departmentId);
    /// @notice The dataset is withdrawn.
    error DatasetIsWithdrawn(bytes32 datasetId);
    /// @notice A parent version does not exist.
    error DatasetUnknownParent(bytes32 datasetId, uint32 version);
    /// @notice More parents than `MAX_PARENTS`.
    error DatasetTooManyParents(uint256 count, uint256 max);
    /// @notice The content hash is zero.
    error DatasetZeroContentHash();
    /// @notice The classification is out of range.
    error DatasetInvalidClassification(uint8 classification);
    /// @notice The dataset has reached the maximum number of versions.
    error DatasetTooManyVersions(bytes32 datasetId);

    /// @notice The id a dataset created by `departmentId` with `salt` gets. Deriving the id from
    /// the creator stops anyone from squatting another department's id by front-running it.
    function datasetIdOf(uint64 departmentId, bytes32 salt) external pure returns (bytes32);

    /// @notice Creates a dataset owned by the calling department, with its first version.
    function createDataset(bytes32 salt, uint8 classification, bytes32 metadataHash, NewVersion calldata first)
        external
        returns (bytes32 datasetId);

    /// @notice `createDataset` authorized by the department's EIP-712 signature.
    function createDatasetBySig(
        bytes32 salt,
        uint8 classification,
        bytes32 metadataHash,
        NewVersion calldata first,
        Authorization calldata auth
    ) external returns (bytes32 datasetId);

    /// @notice Appends a version to a dataset the calling department owns.
    function addVersion(bytes32 datasetId, NewVersion calldata version) external returns (uint32 number);

    /// @notice `addVersion` authorized by the department's EIP-712 signature.
    function addVersionBySig(bytes32 datasetId, NewVersion calldata version, Authorization calldata auth)
        external
        returns (uint32 number);

    /// @notice Withdraws a dataset the calling department owns.
    function withdrawDataset(bytes32 datasetId, bytes32 reasonHash) external;

    /// @notice `withdrawDataset` authorized by the department's EIP-712 signature.
    function withdrawDatasetBySig(bytes32 datasetId, bytes32 reasonHash, Authorization calldata auth) external;

    /// @notice The stored record of a dataset (owner 0 if unknown).
    function dataset(bytes32 datasetId) external view returns (Dataset memory);

    /// @notice True if `ref` names an existing version.
    function versionExists(VersionRef calldata ref) external view returns (bool);
}
