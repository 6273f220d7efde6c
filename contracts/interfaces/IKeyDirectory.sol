// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ISignedActions} from "./ISignedActions.sol";

/// @title IKeyDirectory
/// @notice Each department's HPKE (RFC 9180) encryption public key, the key other departments
/// wrap a dataset's content key to.
/// @dev Keys are published by the department itself (its signing key, or its EIP-712 signature
/// carried by a relayer), never by governance: whoever holds the matching private key is the
/// department's to choose. Each publication gets the next serial of its department (1, 2, …,
/// no gaps) and replaces the key in force; nothing is ever deleted.
///
/// Only hashes are stored. The full public key travels in `EncryptionKeyPublished`, whose
/// `keyHash` and serial let anyone check that a key fetched from a log (or carried in a sealed
/// envelope) is the one the department published under that serial: keccak256 of its bytes must
/// equal `keyHashAt(departmentId, serial)`, a state read answerable at any block.
///
/// KEM identifiers are those of the HPKE KEM registry: 0x0020 DHKEM(X25519, HKDF-SHA256)
/// (RFC 9180, 32-byte keys) and 0x647a MLKEM768-X25519, the X-Wing hybrid of
/// draft-ietf-hpke-pq (ML-KEM-768 public key ‖ X25519 public key, 1216 bytes). The accepted
/// KEMs have pairwise different key lengths, so a key's hash also fixes its KEM.
interface IKeyDirectory is ISignedActions {
    /// @notice A department's key in force, as stored (two slots: the hash, then the rest).
    /// @param keyHash keccak256 of the public key's bytes (HPKE `SerializePublicKey` form).
    /// @param kemId HPKE KEM identifier.
    /// @param serial The key's number within its department, from 1; 0 means no key yet.
    /// @param publishedAt Block time of publication.
    struct EncryptionKey {
        bytes32 keyHash;
        uint16 kemId;
        uint32 serial;
        uint64 publishedAt;
    }

    /// @notice Emitted for every key published; the only place the full key is kept.
    event EncryptionKeyPublished(
        uint64 indexed departmentId, uint32 indexed serial, uint16 kemId, bytes32 keyHash, bytes publicKey
    );

    /// @notice The KEM identifier is not one this directory accepts.
    error KeyDirectoryUnknownKem(uint16 kemId);
    /// @notice The public key does not have the length its KEM requires.
    error KeyDirectoryInvalidKeyLength(uint16 kemId, uint256 length);
    /// @notice The department has never published an encryption key.
    error KeyDirectoryNoKey(uint64 departmentId);
    /// @notice The department is suspended or was never enrolled: nothing may be wrapped to it.
    error KeyDirectoryDepartmentInactive(uint64 departmentId);

    /// @notice Publishes `publicKey` as the calling department's encryption key, replacing the
    /// one in force (which stays provable by its serial).
    /// @return serial The new key's serial.
    function publishEncryptionKey(uint16 kemId, bytes calldata publicKey) external returns (uint32 serial);

    /// @notice `publishEncryptionKey` authorized by the department's EIP-712 signature.
    function publishEncryptionKeyBySig(uint16 kemId, bytes calldata publicKey, Authorization calldata auth)
        external
        returns (uint32 serial);

    /// @notice The department's key in force (all zero if it has none). Ignores suspension.
    function currentKey(uint64 departmentId) external view returns (EncryptionKey memory);

    /// @notice The department's key in force, if a key may be wrapped to it now.
    /// @dev Reverts with `KeyDirectoryDepartmentInactive` if the department is suspended or
    /// unknown, `KeyDirectoryNoKey` if it has published no key. Reads never pause.
    function requireUsableKey(uint64 departmentId) external view returns (EncryptionKey memory);

    /// @notice keccak256 of the key the department published under `serial` (zero if none).
    function keyHashAt(uint64 departmentId, uint32 serial) external view returns (bytes32);

    /// @notice The public key length in bytes that `kemId` requires, or 0 if it is not accepted.
    function publicKeyLength(uint16 kemId) external pure returns (uint256);
}
