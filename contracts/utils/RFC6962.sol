// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title RFC6962
/// @notice Merkle inclusion proofs in the RFC 6962 / RFC 9162 tree format with SHA-256, the
/// format of Certificate Transparency, Trillian and Sigstore's Rekor.
/// @dev Leaves and interior nodes are domain-separated (0x00 / 0x01 prefixes), so a 64-byte
/// record can never be mistaken for a pair of child hashes. The proof binds the leaf index and
/// the tree size. SHA-256 is the 0x02 precompile (60 gas + 12 per word).
/// The verification is RFC 9162 section 2.1.3.2, step by step.
library RFC6962 {
    /// @notice sha256(0x00 || record) for a 32-byte record.
    function leafHash(bytes32 record) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), record));
    }

    /// @notice sha256(0x01 || left || right).
    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }

    /// @notice The root computed from a leaf hash and its audit path, or zero if the proof's
    /// shape does not fit `index` and `size` (wrong length, index out of range).
    function rootFromProof(uint256 index, uint256 size, bytes32 leaf, bytes32[] calldata proof)
        internal
        pure
        returns (bytes32 root)
    {
        if (index >= size) return bytes32(0);
        uint256 fn = index;
        uint256 sn = size - 1;
        root = leaf;
        for (uint256 i = 0; i < proof.length; ++i) {
            if (sn == 0) return bytes32(0);
            if (fn & 1 == 1 || fn == sn) {
                root = nodeHash(proof[i], root);
                // When fn == sn is a left child it has no right sibling at this level: climb
                // until it becomes a right child (or the root of its subtree).
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                root = nodeHash(root, proof[i]);
            }
            fn >>= 1;
            sn >>= 1;
        }
        if (sn != 0) return bytes32(0);
    }
}
