"""EIP-712 typed data for every department action, matching the contracts exactly.

Each contract has its own domain (name below, version "1", chain id, its own address), so a
signature is valid on one contract of one chain only, and once: every message carries the
department's nonce on that contract and a deadline. The type strings here and the
``*_TYPEHASH`` constants in ``contracts/`` must agree; tests check them against each other
and against signatures the contracts accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

DATASET_REGISTRY_DOMAIN: Final = "provledger.DatasetRegistry"
ACCESS_REGISTRY_DOMAIN: Final = "provledger.AccessRegistry"
ANCHOR_REGISTRY_DOMAIN: Final = "provledger.AnchorRegistry"
KEY_DIRECTORY_DOMAIN: Final = "provledger.KeyDirectory"
DOMAIN_VERSION: Final = "1"


def _fields(*declarations: str) -> list[dict[str, str]]:
    """EIP-712 fields from Solidity-style declarations (``"bytes32 salt"``), in order: the
    table below then reads as the contracts' type strings do."""
    return [{"name": name, "type": kind} for kind, name in (d.split(" ") for d in declarations)]


def _action(*declarations: str) -> list[dict[str, str]]:
    """A department action's fields: the department first, then ``declarations``, then the
    nonce and deadline that make its signature good once and for a while."""
    return _fields("uint64 departmentId", *declarations, "uint256 nonce", "uint256 deadline")


_VERSION_REF = _fields("bytes32 datasetId", "uint32 version")

#: Primary type → its fields, in the order of the Solidity type strings.
ACTION_TYPES: Final[dict[str, list[dict[str, str]]]] = {
    "CreateDataset": _action(
        "bytes32 salt",
        "uint8 classification",
        "bytes32 metadataHash",
        "bytes32 contentHash",
        "bytes32 versionMetadataHash",
        "VersionRef[] parents",
    ),
    "AddVersion": _action(
        "bytes32 datasetId", "bytes32 contentHash", "bytes32 metadataHash", "VersionRef[] parents"
    ),
    "WithdrawDataset": _action("bytes32 datasetId", "bytes32 reasonHash"),
    "RequestAccess": _action(
        "bytes32 salt", "bytes32 datasetId", "bytes32 purposeHash", "uint64 requestedDuration"
    ),
    "ApproveAccess": _action("bytes32 requestId", "uint64 expiresAt"),
    "DenyAccess": _action("bytes32 requestId", "bytes32 reasonHash"),
    "CancelAccessRequest": _action("bytes32 requestId"),
    "RevokeAccess": _action("bytes32 requestId", "bytes32 reasonHash"),
    "AnchorBatch": _action("bytes32 root", "uint64 size", "bytes32 metadataHash"),
    "PublishEncryptionKey": _action("uint16 kemId", "bytes publicKey"),
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
    "PublishEncryptionKey": KEY_DIRECTORY_DOMAIN,
}


def encode_type(primary_type: str) -> str:
    """The EIP-712 ``encodeType`` string, as the contracts hash it into their typehashes."""
    fields = ACTION_TYPES[primary_type]
    own = _type_string(primary_type, fields)
    if any(f["type"].startswith("VersionRef") for f in fields):
        own += _type_string("VersionRef", _VERSION_REF)  # referenced struct types follow
    return own


def _type_string(name: str, fields: list[dict[str, str]]) -> str:
    members = ",".join(f"{f['type']} {f['name']}" for f in fields)
    return f"{name}({members})"


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
        """The 32-byte digest that is signed: keccak256(0x1901 ‖ domainSeparator ‖ structHash),
        computed as the contracts compute it (a verifier recovers thousands of signatures:
        eth-account's generic encoder re-parses the types for each; ``tests/ledger/test_eip712.py``
        checks the two agree for every action)."""
        return keccak(b"\x19\x01" + _domain_separator(self.domain) + self._struct_hash())

    def _struct_hash(self) -> bytes:
        fields = ACTION_TYPES[self.primary_type]
        types = ["bytes32"]
        values: list[Any] = [_typehash(self.primary_type)]
        for field in fields:
            value = self.message[field["name"]]
            if field["type"] == "VersionRef[]":
                types.append("bytes32")
                values.append(_version_refs_hash(value))
            elif field["type"] == "bytes":  # dynamic bytes are encoded as their keccak256
                types.append("bytes32")
                values.append(keccak(_atomic(value)))
            else:
                types.append(field["type"])
                values.append(_atomic(value))
        return keccak(abi_encode(types, values))

    def sign(self, account: LocalAccount) -> bytes:
        """65-byte (r ‖ s ‖ v) signature by ``account``; eth-account always produces low-s."""
        signed = account.sign_message(encode_typed_data(full_message=self.full_message()))
        return bytes(signed.signature)

    def recover(self, signature: bytes) -> str:
        """The address that produced ``signature`` over this action."""
        return str(Account._recover_hash(self.digest(), signature=signature))


_DOMAIN_TYPEHASH: Final = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_VERSION_REF_TYPEHASH: Final = keccak(text="VersionRef(bytes32 datasetId,uint32 version)")


@cache
def _typehash(primary_type: str) -> bytes:
    return keccak(text=encode_type(primary_type))


@cache
def _domain_separator(domain: Domain) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                _DOMAIN_TYPEHASH,
                keccak(text=domain.name),
                keccak(text=domain.version),
                domain.chain_id,
                domain.verifying_contract,
            ],
        )
    )


def domain_separator(domain: Domain) -> bytes:
    """The domain's EIP-712 separator (cached: a verifier meets few domains)."""
    return _domain_separator(domain)


def _version_refs_hash(refs: Any) -> bytes:
    return keccak(
        b"".join(
            keccak(
                abi_encode(
                    ["bytes32", "bytes32", "uint32"],
                    [_VERSION_REF_TYPEHASH, _atomic(ref["datasetId"]), int(ref["version"])],
                )
            )
            for ref in refs
        )
    )


def _atomic(value: Any) -> Any:
    """A message value as ``abi_encode`` takes it (0x-hex text, as a JSON document has it,
    becomes bytes)."""
    if isinstance(value, str) and value.startswith("0x"):
        return bytes.fromhex(value[2:])
    return value
