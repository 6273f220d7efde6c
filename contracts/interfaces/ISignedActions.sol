// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ISignedActions
/// @notice What every provledger contract that accepts department actions by EIP-712 signature
/// shares: the authorization envelope, its errors and the per-department nonce.
/// @dev A department action can be sent by the department's own key (`msg.sender`) or by anyone
/// (a relayer) carrying the department's signature. The signature covers the action, the
/// department id, a nonce and a deadline; the EIP-712 domain binds the chain id and this
/// contract's address, so a signature is valid exactly once, on one contract of one chain.
interface ISignedActions {
    /// @notice A department's signature over an action, for submission by a relayer.
    /// @param departmentId The department the action is taken for.
    /// @param nonce Must equal `departmentNonce(departmentId)`; consumed on success.
    /// @param deadline Last block time (inclusive) at which the signature is accepted.
    /// @param signature 65-byte ECDSA signature (r, s, v) of the EIP-712 digest, low-s only.
    struct Authorization {
        uint64 departmentId;
        uint256 nonce;
        uint256 deadline;
        bytes signature;
    }

    /// @notice The signature's deadline has passed.
    error SignatureExpired(uint256 deadline, uint256 blockTime);
    /// @notice The signature recovers to an address other than the department's current key.
    error SignatureWrongSigner(uint64 departmentId, address recovered);

    /// @notice The next nonce a signature of `departmentId` must carry on this contract.
    function departmentNonce(uint64 departmentId) external view returns (uint256);

    /// @notice The department registry that says who may act.
    function departments() external view returns (address);
}
