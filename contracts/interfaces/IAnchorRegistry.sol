// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ISignedActions} from "./ISignedActions.sol";

/// @title IAnchorRegistry
/// @notice Merkle roots of many records anchored in one transaction, for high-volume flows.
/// @dev Trees follow RFC 6962 / RFC 9162 with SHA-256: leaf hash sha256(0x00 || record),
/// node hash sha256(0x01 || left || right). A record is a 32-byte digest; an inclusion proof
/// (leaf index + audit path) against an anchored root proves the record was anchored by the
/// department at that block. The stored size is the anchoring department's own statement (an
/// RFC 6962 root does not commit to its tree size); it bounds which proofs verify, and only the
/// department can set it, so nobody else can forge an inclusion.
interface IAnchorRegistry is ISignedActions {
    /// @notice An anchored batch as stored on chain (one slot).
    struct Anchor {
        uint64 department;
        uint64 size;
        uint64 anchoredAt;
    }

    /// @notice Emitted when a department anchors a batch root.
    event BatchAnchored(bytes32 indexed root, uint64 indexed department, uint64 size, bytes32 metadataHash);

    /// @notice The root was anchored already.
    error AnchorExists(bytes32 root);
    /// @notice The batch is empty or larger than `MAX_BATCH_SIZE`.
    error AnchorInvalidSize(uint64 size);
    /// @notice The root is zero, which no tree has.
    error AnchorZeroRoot();
    /// @notice No batch has this root.
    error AnchorUnknown(bytes32 root);

    /// @notice Anchors the root of a batch of `size` records for the calling department.
    function anchorBatch(bytes32 root, uint64 size, bytes32 metadataHash) external;

    /// @notice `anchorBatch` authorized by signature.
    function anchorBatchBySig(bytes32 root, uint64 size, bytes32 metadataHash, Authorization calldata auth) external;

    /// @notice The stored anchor (department 0 if unknown).
    function anchor(bytes32 root) external view returns (Anchor memory);

    /// @notice True if `record` is leaf `index` of the anchored batch `root`, proven by `proof`.
    function verifyInclusion(bytes32 root, uint256 index, bytes32 record, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
