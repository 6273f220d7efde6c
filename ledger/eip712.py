"""EIP-712 typed data for every department action, matching the contracts exactly.

Each contract has its own domain (name below, version "1", chain id, its own address), so a
signature is valid on one contract of one chain only, and once: every message carries the
department's nonce on that contract and a deadline. The type strings here and the
``*_TYPEHASH`` constants in ``contracts/`` must agree; tests check them against each other
and against signatures the contracts accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

DATASET_REGISTRY_DOMAIN: Final = "provledger.DatasetRegistry"
ACCESS_REGISTRY_DOMAIN: Final = "provledger.AccessRegistry"
ANCHOR_REGISTRY_DOMAIN: Final = "provledger.AnchorRegistry"
DOMAIN_VERSION: Final = "1"

_VERSION_REF = [{"name": "datasetId", "type": "bytes32"}, {"name": "version", "type": "uint32"}]
_AUTH = [
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
_DEPT = [{"name": "departmentId", "type": "uint64"}]

#: Primary type → its fields, in the order of the Solidity type strings.
ACTION_TYPES: Final[dict[str, list[dict[str, str]]]] = {
    "CreateDataset": [
        *_DEPT,
        {"name": "salt", "type": "bytes32"},
        {"name": "classification", "type": "uint8"},
        {"name": "metadataHash", "type": "bytes32"},
        {"name": "contentHash", "type": "bytes32"},
        {"name": "versionMetadataHash", "type": "bytes32"},
        {"name": "parents", "type": "VersionRef[]"},
        *_AUTH,
    ],
    "AddVersion": [
        *_DEPT,
        {"name": "datasetId", "type": "bytes32"},
        {"name": "contentHash", "type": "bytes32"},
        {"name": "metadataHash", "type": "bytes32"},
        {"name": "parents", "type": "VersionRef[]"},
        *_AUTH,
    ],
    "WithdrawDataset": [
        *_DEPT,
        {"name": "datasetId", "type": "bytes32"},
        {"name": "reasonHash", "type": "bytes32"},
        *_AUTH,
    ],
    "RequestAccess": [
        *_DEPT,
        {"name": "salt", "type": "bytes32"},
        {"name": "datasetId", "type": "bytes32"},
        {"name": "purposeHash", "type": "bytes32"},
        {"name": "requestedDuration", "type": "uint64"},
        *_AUTH,
    ],
    "ApproveAccess": [
        *_DEPT,
        {"name": "requestId", "type": "bytes32"},
        {"name": "expiresAt", "type": "uint64"},
        *_AUTH,
    ],
    "DenyAccess": [
        *_DEPT,
        {"name": "requestId", "type": "bytes32"},
        {"name": "reasonHash", "type": "bytes32"},
        *_AUTH,
    ],
    "CancelAccessRequest": [*_DEPT, {"name": "requestId", "type": "bytes32"}, *_AUTH],
    "RevokeAccess": [
        *_DEPT,
        {"name": "requestId", "type": "bytes32"},
        {"name": "reasonHash", "type": "bytes32"},
        *_AUTH,
    ],
    "AnchorBatch": [
        *_DEPT,
        {"name": "root", "type": "bytes32"},
        {"name": "size", "type": "uint64"},
        {"name": "metadataHash", "type": "bytes32"},
        *_AUTH,
    ],
}

#: Which contract's domain each action is signed under.
ACTION_DOMAINS: Final[dict[str, str]] = {
    "CreateDataset": DATASET_REGISTRY_DOMAIN,
    "AddVersion": DATASET_REGISTRY_DOMAIN,
    "WithdrawDataset": DATASET_REGISTRY_DOMAIN,
    "RequestAccess": ACCESS_REGISTRY_DOMAIN,
    "ApproveAccess": ACCESS_REGISTRY_DOMAIN,
    "DenyAccess": ACCESS_REGISTRY_DOMAIN,
    "CancelAccessRequest": ACCESS_REGISTRY_DOMAIN,
    "RevokeAccess": ACCESS_REGISTRY_DOMAIN,
    "AnchorBatch": ANCHOR_REGISTRY_DOMAIN,
}


def encode_type(primary_type: str) -> str:
    """The EIP-712 ``encodeType`` string, as the contracts hash it into their typehashes."""
    fields = ",".join(f"{f['type']} {f['name']}" for f in ACTION_TYPES[primary_type])
    own = f"{primary_type}({fields})"
    if any(f["type"].startswith("VersionRef") for f in ACTION_TYPES[primary_type]):
        own += "VersionRef(bytes32 datasetId,uint32 version)"
    return own


@dataclass(frozen=True, slots=True, kw_only=True)
class Domain:
    """An EIP-712 domain: which contract on which chain a signature is for."""

    name: str
    chain_id: int
    verifying_contract: str
    version: str = DOMAIN_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedAction:
    """One department action as EIP-712 typed data, ready to sign or to verify."""

    primary_type: str
    domain: Domain
    message: dict[str, Any]

    def __post_init__(self) -> None:
        if self.primary_type not in ACTION_TYPES:
            raise ValueError(f"unknown action type {self.primary_type!r}")
        if ACTION_DOMAINS[self.primary_type] != self.domain.name:
            raise ValueError(
                f"{self.primary_type} is signed under {ACTION_DOMAINS[self.primary_type]!r}"
            )
        expected = {f["name"] for f in ACTION_TYPES[self.primary_type]}
        if set(self.message) != expected:
            raise ValueError(
                f"{self.primary_type} needs exactly {sorted(expected)}, got {sorted(self.message)}"
            )

    def full_message(self) -> dict[str, Any]:
        """The ``eth_signTypedData_v4`` JSON document."""
        types: dict[str, Any] = {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            self.primary_type: ACTION_TYPES[self.primary_type],
        }
        if "parents" in self.message:
            types["VersionRef"] = _VERSION_REF
        return {
            "types": types,
            "primaryType": self.primary_type,
            "domain": self.domain.as_dict(),
            "message": self.message,
        }

    def digest(self) -> bytes:
        """The 32-byte digest that is signed: keccak256(0x1901 ‖ domainSeparator ‖ structHash)."""
        signable = encode_typed_data(full_message=self.full_message())
        return keccak(b"\x19" + signable.version + signable.header + signable.body)

    def sign(self, account: LocalAccount) -> bytes:
        """65-byte (r ‖ s ‖ v) signature by ``account``; eth-account always produces low-s."""
        signed = account.sign_message(encode_typed_data(full_message=self.full_message()))
        return bytes(signed.signature)

    def recover(self, signature: bytes) -> str:
        """The address that produced ``signature`` over this action."""
        return str(
            Account.recover_message(
                encode_typed_data(full_message=self.full_message()), signature=signature
            )
        )
