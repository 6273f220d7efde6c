// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {IDepartmentRegistry} from "../interfaces/IDepartmentRegistry.sol";
import {ISignedActions} from "../interfaces/ISignedActions.sol";

/// @title SignedActions
/// @notice Resolves who is acting: the department whose key sent the transaction, or the
/// department whose EIP-712 signature a relayer carries.
/// @dev Nonces are kept per department (not per key): OpenZeppelin's `Nonces` is keyed by
/// address, so the department id is widened into an address-sized key. Ids are small integers
/// and the mapping is private to this contract, so the key never collides with a real account.
/// Keying by department means a key rotation neither resets the sequence nor strands it.
abstract contract SignedActions is ISignedActions, EIP712, Nonces {
    IDepartmentRegistry private immutable _departments;

    constructor(IDepartmentRegistry registry, string memory name, string memory version) EIP712(name, version) {
        _departments = registry;
    }

    /// @inheritdoc ISignedActions
    function departments() external view returns (address) {
        return address(_departments);
    }

    /// @inheritdoc ISignedActions
    function departmentNonce(uint64 departmentId) external view returns (uint256) {
        return nonces(_nonceKey(departmentId));
    }

    /// @dev The department whose active key is `msg.sender`; reverts when paused or inactive.
    function _callerDepartment() internal view returns (uint64) {
        return _departments.requireActiveDepartment(msg.sender);
    }

    /// @dev Checks `auth` over `structHash` and consumes its nonce. Order matters for the error a
    /// caller sees: an expired signature is reported as expired even if it was also replayed.
    function _signerDepartment(bytes32 structHash, Authorization calldata auth) internal returns (uint64) {
        if (block.timestamp > auth.deadline) revert SignatureExpired(auth.deadline, block.timestamp);
        address expected = _departments.requireActiveSigner(auth.departmentId);
        address recovered = ECDSA.recoverCalldata(_hashTypedDataV4(structHash), auth.signature);
        if (recovered != expected) revert SignatureWrongSigner(auth.departmentId, recovered);
        _useCheckedNonce(_nonceKey(auth.departmentId), auth.nonce);
        return auth.departmentId;
    }

    /// @dev The department registry, for checks outside the two actor paths.
    function _registry() internal view returns (IDepartmentRegistry) {
        return _departments;
    }

    function _nonceKey(uint64 departmentId) private pure returns (address) {
        return address(uint160(departmentId));
    }
}
