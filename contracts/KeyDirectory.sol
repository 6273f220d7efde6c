// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDepartmentRegistry} from "./interfaces/IDepartmentRegistry.sol";
import {IKeyDirectory} from "./interfaces/IKeyDirectory.sol";
import {SignedActions} from "./utils/SignedActions.sol";

/// @title KeyDirectory
/// @notice Departments' HPKE encryption public keys, by serial, for wrapping content keys.
/// @dev Storage per department is one slot of state (KEM, serial, time) plus one slot per key
/// ever published (its hash, by serial). The per-serial hashes cost one fresh slot per rotation
/// (about 17k gas more than overwriting a single "current" hash), and buy a state read that
/// answers "which key was in force at serial n" at any block on any node, even one that has
/// pruned old logs (EIP-4444); keys rotate rarely, so the cost is paid rarely.
contract KeyDirectory is IKeyDirectory, SignedActions {
    /// @notice Semantic version of this contract.
    string public constant VERSION = "0.1.0";
    /// @notice HPKE KEM id of DHKEM(X25519, HKDF-SHA256), RFC 9180 section 7.1.
    uint16 public constant KEM_X25519 = 0x0020;
    /// @notice HPKE KEM id of MLKEM768-X25519 (X-Wing), draft-ietf-hpke-pq.
    uint16 public constant KEM_MLKEM768_X25519 = 0x647a;

    bytes32 public constant PUBLISH_ENCRYPTION_KEY_TYPEHASH = keccak256(
        "PublishEncryptionKey(uint64 departmentId,uint16 kemId,bytes publicKey,uint256 nonce,uint256 deadline)"
    );

    // RFC 9180 Npk of each accepted KEM. Private: a getter per constant would only add
    // selectors; `publicKeyLength` answers for all of them.
    uint256 private constant X25519_KEY_LENGTH = 32;
    uint256 private constant MLKEM768_X25519_KEY_LENGTH = 1184 + 32;

    /// @dev The department's key in force, without its hash (kept by serial in `_keyHashes`),
    /// so the whole state is one slot.
    struct KeyState {
        uint16 kemId;
        uint32 serial;
        uint64 publishedAt;
    }

    mapping(uint64 departmentId => KeyState state) private _keyStates;
    mapping(uint64 departmentId => mapping(uint32 serial => bytes32 keyHash)) private _keyHashes;

    constructor(IDepartmentRegistry registry) SignedActions(registry, "provledger.KeyDirectory", "1") {}

    /// @inheritdoc IKeyDirectory
    function publishEncryptionKey(uint16 kemId, bytes calldata publicKey) external returns (uint32) {
        uint64 departmentId = _callerDepartment();
        _checkKey(kemId, publicKey.length);
        return _store(departmentId, kemId, keccak256(publicKey), publicKey);
    }

    /// @inheritdoc IKeyDirectory
    function publishEncryptionKeyBySig(uint16 kemId, bytes calldata publicKey, Authorization calldata auth)
        external
        returns (uint32)
    {
        // EIP-712 encodes `bytes` as its keccak256, which is also the hash stored: one hash
        // serves both. The signature is checked first, as in every other contract, so a
        // tampered field is reported as a wrong signer whatever it was changed to.
        bytes32 keyHash = keccak256(publicKey);
        bytes32 structHash = keccak256(
            abi.encode(PUBLISH_ENCRYPTION_KEY_TYPEHASH, auth.departmentId, kemId, keyHash, auth.nonce, auth.deadline)
        );
        uint64 departmentId = _signerDepartment(structHash, auth);
        _checkKey(kemId, publicKey.length);
        return _store(departmentId, kemId, keyHash, publicKey);
    }

    /// @inheritdoc IKeyDirectory
    function currentKey(uint64 departmentId) public view returns (EncryptionKey memory key) {
        KeyState memory state = _keyStates[departmentId];
        if (state.serial == 0) return key;
        return EncryptionKey({
            keyHash: _keyHashes[departmentId][state.serial],
            kemId: state.kemId,
            serial: state.serial,
            publishedAt: state.publishedAt
        });
    }

    /// @inheritdoc IKeyDirectory
    function requireUsableKey(uint64 departmentId) external view returns (EncryptionKey memory key) {
        if (!_registry().isActive(departmentId)) revert KeyDirectoryDepartmentInactive(departmentId);
        key = currentKey(departmentId);
        if (key.serial == 0) revert KeyDirectoryNoKey(departmentId);
    }

    /// @inheritdoc IKeyDirectory
    function keyHashAt(uint64 departmentId, uint32 serial) external view returns (bytes32) {
        return _keyHashes[departmentId][serial];
    }

    /// @inheritdoc IKeyDirectory
    function publicKeyLength(uint16 kemId) public pure returns (uint256) {
        if (kemId == KEM_MLKEM768_X25519) return MLKEM768_X25519_KEY_LENGTH;
        if (kemId == KEM_X25519) return X25519_KEY_LENGTH;
        return 0;
    }

    /// @dev Only the length can be checked on chain: whether the bytes are a valid point or
    /// ML-KEM key is for the HPKE code that wraps to it (it refuses an invalid key).
    function _checkKey(uint16 kemId, uint256 length) private pure {
        uint256 expected = publicKeyLength(kemId);
        if (expected == 0) revert KeyDirectoryUnknownKem(kemId);
        if (length != expected) revert KeyDirectoryInvalidKeyLength(kemId, length);
    }

    function _store(uint64 departmentId, uint16 kemId, bytes32 keyHash, bytes calldata publicKey)
        private
        returns (uint32 serial)
    {
        KeyState storage state = _keyStates[departmentId];
        serial = state.serial + 1; // checked: 2^32 - 1 rotations is the end, not a wrap to 0
        _keyStates[departmentId] = KeyState({kemId: kemId, serial: serial, publishedAt: uint64(block.timestamp)});
        _keyHashes[departmentId][serial] = keyHash;
        emit EncryptionKeyPublished(departmentId, serial, kemId, keyHash, publicKey);
    }
}
