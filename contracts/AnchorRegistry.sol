// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAnchorRegistry} from "./interfaces/IAnchorRegistry.sol";
import {IDepartmentRegistry} from "./interfaces/IDepartmentRegistry.sol";
import {RFC6962} from "./utils/RFC6962.sol";
import {SignedActions} from "./utils/SignedActions.sol";

/// @title AnchorRegistry
/// @notice One transaction anchors the Merkle root of a whole batch of records.
/// @dev Cost per batch is constant (one storage slot, one event), so cost per record falls with
/// batch size; see bench/gas.py.
contract AnchorRegistry is IAnchorRegistry, SignedActions {
    /// @notice Semantic version of this contract.
    string public constant VERSION = "0.1.0";
    /// @notice Largest batch: 2^32 records, far beyond what one signer produces between flushes.
    uint64 public constant MAX_BATCH_SIZE = 2 ** 32;

    bytes32 public constant ANCHOR_BATCH_TYPEHASH = keccak256(
        "AnchorBatch(uint64 departmentId,bytes32 root,uint64 size,bytes32 metadataHash,uint256 nonce,uint256 deadline)"
    );

    mapping(bytes32 root => Anchor record) private _anchors;

    constructor(IDepartmentRegistry registry) SignedActions(registry, "provledger.AnchorRegistry", "1") {}

    /// @inheritdoc IAnchorRegistry
    function anchorBatch(bytes32 root, uint64 size, bytes32 metadataHash) external {
        _anchorBatch(_callerDepartment(), root, size, metadataHash);
    }

    /// @inheritdoc IAnchorRegistry
    function anchorBatchBySig(bytes32 root, uint64 size, bytes32 metadataHash, Authorization calldata auth)
        external
    {
        bytes32 structHash = keccak256(
            abi.encode(ANCHOR_BATCH_TYPEHASH, auth.departmentId, root, size, metadataHash, auth.nonce, auth.deadline)
        );
        _anchorBatch(_signerDepartment(structHash, auth), root, size, metadataHash);
    }

    /// @inheritdoc IAnchorRegistry
    function anchor(bytes32 root) external view returns (Anchor memory) {
        return _anchors[root];
    }

    /// @inheritdoc IAnchorRegistry
    function verifyInclusion(bytes32 root, uint256 index, bytes32 record, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Anchor storage batch = _anchors[root];
        if (batch.department == 0) revert AnchorUnknown(root);
        // rootFromProof answers zero for a malformed proof; anchoring refuses a zero root, so a
        // malformed proof can never match.
        return RFC6962.rootFromProof(index, batch.size, RFC6962.leafHash(record), proof) == root;
    }

    function _anchorBatch(uint64 departmentId, bytes32 root, uint64 size, bytes32 metadataHash) private {
        if (root == bytes32(0)) revert AnchorZeroRoot();
        if (size == 0 || size > MAX_BATCH_SIZE) revert AnchorInvalidSize(size);
        Anchor storage record = _anchors[root];
        if (record.department != 0) revert AnchorExists(root);
        _anchors[root] = Anchor({department: departmentId, size: size, anchoredAt: uint64(block.timestamp)});
        emit BatchAnchored(root, departmentId, size, metadataHash);
    }
}
