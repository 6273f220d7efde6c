"""Delivery receipts: a department's signed acknowledgement that it received a sealed version.

A receipt is EIP-712 typed data, ``Receipt(bytes32 datasetId,uint32 version,bytes32
contentHash,bytes32 sealedHash,bytes32 requestId,uint64 departmentId,uint64 time)``, signed by
the receiving department's key: "department B received version 3 of dataset D (these plaintext
and sealed bytes) under grant R at time T". Its domain is ``provledger.Receipts`` version 1 on
the deployment's chain id with the deployment's ``AccessRegistry`` as ``verifyingContract``:
the grant a receipt names lives in that registry, so the domain binds the receipt to the one
deployment where ``requestId`` means something, and a signature made for a test deployment or
another chain can never be shown as a receipt here. No contract verifies receipts (they are
anchored in batches, only the root goes on chain); the domain is for binding, not for
``ecrecover`` in the EVM.

A receipt's leaf in an anchored batch is ``SHA-256(RECEIPT_FORMAT ‖ eip712 digest)``: the tag
separates receipt leaves from batched dataset records (whose encoding starts with another tag),
and the anchor's ``metadataHash`` is :data:`RECEIPT_BATCH_COMMITMENT`, naming the leaf format
for a reader of the chain.

Pure: standard library and eth-account only. :func:`check_bundle_offline` checks everything a
proof bundle claims that needs no chain; :mod:`ledger.anchoring.receipts` checks the rest
against a node.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils.crypto import keccak

from ledger.eip712 import Domain, TypedAction, domain_separator
from ledger.encoding import from_hex, to_hex
from ledger.errors import InvalidInputError, InvalidProofError
from ledger.merkle import record_leaf_hash, root_from_inclusion_proof

RECEIPT_DOMAIN: Final = "provledger.Receipts"
RECEIPT_FORMAT: Final = b"provledger.receipt/1"
#: The anchor's ``metadataHash`` of a batch of receipts.
RECEIPT_BATCH_COMMITMENT: Final = hashlib.sha256(RECEIPT_FORMAT).digest()

RECEIPT_FIELDS: Final[list[dict[str, str]]] = [
    {"name": "datasetId", "type": "bytes32"},
    {"name": "version", "type": "uint32"},
    {"name": "contentHash", "type": "bytes32"},
    {"name": "sealedHash", "type": "bytes32"},
    {"name": "requestId", "type": "bytes32"},
    {"name": "departmentId", "type": "uint64"},
    {"name": "time", "type": "uint64"},
]
RECEIPT_TYPE: Final = (
    "Receipt(" + ",".join(f"{f['type']} {f['name']}" for f in RECEIPT_FIELDS) + ")"
)
_RECEIPT_TYPEHASH: Final = keccak(text=RECEIPT_TYPE)
_DOMAIN_FIELDS: Final = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def receipt_domain(chain_id: int, access_registry: str) -> Domain:
    """The receipts' domain of one deployment: its chain and its ``AccessRegistry``."""
    return Domain(name=RECEIPT_DOMAIN, chain_id=chain_id, verifying_contract=access_registry)


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """One delivery receipt: exactly the fields its signature covers."""

    dataset_id: bytes
    version: int
    content_hash: bytes
    sealed_hash: bytes
    request_id: bytes
    department_id: int
    time: int

    def __post_init__(self) -> None:
        for name in ("dataset_id", "content_hash", "sealed_hash", "request_id"):
            if len(getattr(self, name)) != 32:
                raise InvalidInputError(f"{name} must be 32 bytes, got {len(getattr(self, name))}")
        if not 1 <= self.version < 2**32:
            raise InvalidInputError(f"version must be 1 to 2**32 - 1, got {self.version}")
        if not 1 <= self.department_id < 2**64:
            raise InvalidInputError(f"department id out of range: {self.department_id}")
        if not 0 <= self.time < 2**64:
            raise InvalidInputError(f"time out of range: {self.time}")

    def message(self) -> dict[str, Any]:
        """The typed data's ``message``, 0x-hex for bytes (as a JSON document has it)."""
        return {
            "datasetId": to_hex(self.dataset_id),
            "version": self.version,
            "contentHash": to_hex(self.content_hash),
            "sealedHash": to_hex(self.sealed_hash),
            "requestId": to_hex(self.request_id),
            "departmentId": self.department_id,
            "time": self.time,
        }

    @classmethod
    def from_message(cls, message: Any) -> Receipt:
        """Inverse of :meth:`message`; ``InvalidInputError`` on anything malformed."""
        try:
            if not isinstance(message, dict) or set(message) != {f["name"] for f in RECEIPT_FIELDS}:
                raise ValueError("the fields are not exactly a Receipt's")
            return cls(
                dataset_id=from_hex(message["datasetId"]),
                version=_int(message["version"]),
                content_hash=from_hex(message["contentHash"]),
                sealed_hash=from_hex(message["sealedHash"]),
                request_id=from_hex(message["requestId"]),
                department_id=_int(message["departmentId"]),
                time=_int(message["time"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"not a receipt: {exc}") from exc

    def typed_data(self, domain: Domain) -> dict[str, Any]:
        """The ``eth_signTypedData_v4`` document a department's wallet signs."""
        return {
            "types": {"EIP712Domain": _DOMAIN_FIELDS, "Receipt": RECEIPT_FIELDS},
            "primaryType": "Receipt",
            "domain": domain.as_dict(),
            "message": self.message(),
        }

    def struct_hash(self) -> bytes:
        return keccak(
            abi_encode(
                [
                    "bytes32",
                    "bytes32",
                    "uint32",
                    "bytes32",
                    "bytes32",
                    "bytes32",
                    "uint64",
                    "uint64",
                ],
                [
                    _RECEIPT_TYPEHASH,
                    self.dataset_id,
                    self.version,
                    self.content_hash,
                    self.sealed_hash,
                    self.request_id,
                    self.department_id,
                    self.time,
                ],
            )
        )

    def digest(self, domain: Domain) -> bytes:
        """keccak256(0x1901 ‖ domainSeparator ‖ structHash): what is signed, and the receipt's
        id."""
        if domain.name != RECEIPT_DOMAIN:
            raise InvalidInputError(f"a receipt is signed under {RECEIPT_DOMAIN!r}")
        return keccak(b"\x19\x01" + domain_separator(domain) + self.struct_hash())

    def sign(self, account: LocalAccount, domain: Domain) -> bytes:
        """65-byte (r ‖ s ‖ v) signature by ``account``."""
        signed = account.unsafe_sign_hash(Hash32(self.digest(domain)))
        return bytes(signed.signature)

    def recover(self, signature: bytes, domain: Domain) -> str:
        """The address that signed; ``InvalidInputError`` for bytes that are no signature."""
        return recover_digest(self.digest(domain), signature)


def recover_digest(digest: bytes, signature: bytes) -> str:
    if len(signature) != 65:
        raise InvalidInputError(f"a signature is 65 bytes, got {len(signature)}")
    try:
        return str(Account._recover_hash(digest, signature=signature))
    except Exception as exc:  # eth-keys raises several kinds for garbage signatures
        raise InvalidInputError(f"the signature does not recover to any key: {exc}") from exc


def leaf_digest(receipt_digest: bytes) -> bytes:
    """The record digest of a receipt in an anchored batch (RFC 6962 hashes it once more into
    its leaf): domain-separated from batched dataset records by :data:`RECEIPT_FORMAT`."""
    return hashlib.sha256(RECEIPT_FORMAT + receipt_digest).digest()


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflineFacts:
    """What a bundle proves without a chain; the chain check confirms the rest."""

    receipt: Receipt
    domain: Domain
    digest: bytes
    signer: str
    root: bytes | None
    tree_size: int | None


def check_bundle_offline(bundle: Any) -> OfflineFacts:
    """Every claim of a receipt's proof bundle that needs no chain, re-derived from its parts.

    Raises :class:`InvalidProofError` naming what does not hold: the receipt id is not the
    typed data's digest, the signature is not by the signer named, the inclusion proof does not
    lead to the anchored root, or the anchor's signed typed data is not for that root, for a
    batch of receipts, by the same department. An unanchored bundle proves the signature only.
    """
    try:
        typed = bundle["receipt"]
        domain = _domain_of(typed["domain"])
        if typed.get("primaryType") != "Receipt" or typed.get("types", {}).get("Receipt") != (
            RECEIPT_FIELDS
        ):
            raise InvalidProofError("the bundle's typed data is not a Receipt")
        receipt = Receipt.from_message(typed["message"])
        signature = from_hex(bundle["signature"])
        claimed_id = str(bundle["receipt_id"]).lower()
        claimed_signer = str(bundle["signer"])
    except (KeyError, TypeError, ValueError, InvalidInputError) as exc:
        raise InvalidProofError(f"the bundle is unreadable: {exc}") from exc
    digest = receipt.digest(domain)
    if claimed_id != to_hex(digest):
        raise InvalidProofError(
            f"the receipt's typed data hashes to {to_hex(digest)}, the bundle names {claimed_id}"
        )
    try:
        signer = receipt.recover(signature, domain)
    except InvalidInputError as exc:
        raise InvalidProofError(f"the receipt's signature: {exc}") from exc
    if signer.lower() != claimed_signer.lower():
        raise InvalidProofError(
            f"the receipt's signature is by {signer}, the bundle names {claimed_signer}"
        )
    anchor = bundle.get("anchor")
    if anchor is None:
        return OfflineFacts(
            receipt=receipt, domain=domain, digest=digest, signer=signer, root=None, tree_size=None
        )
    try:
        inclusion = bundle["inclusion"]
        index, size = int(inclusion["leaf_index"]), int(inclusion["tree_size"])
        hashes = [from_hex(h) for h in inclusion["proof"]]
        root = from_hex(anchor["root"])
        signed = anchor["typed_data"]
        anchor_signature = from_hex(anchor["signature"])
        action = TypedAction(
            primary_type="AnchorBatch",
            domain=_domain_of(signed["domain"]),
            message=dict(signed["message"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidProofError(f"the bundle's anchor is unreadable: {exc}") from exc
    computed = root_from_inclusion_proof(index, size, record_leaf_hash(leaf_digest(digest)), hashes)
    if computed != root:
        raise InvalidProofError(
            f"the receipt's inclusion proof leads to root {to_hex(computed)}, "
            f"expected {to_hex(root)}"
        )
    message = action.message
    if str(message.get("root", "")).lower() != to_hex(root):
        raise InvalidProofError(
            f"the department signed root {message.get('root')}, not {to_hex(root)}"
        )
    if str(message.get("metadataHash", "")).lower() != to_hex(RECEIPT_BATCH_COMMITMENT):
        raise InvalidProofError("the anchored root is not a batch of receipts (metadataHash)")
    if int(message.get("size", -1)) != size or int(message.get("departmentId", -1)) != (
        receipt.department_id
    ):
        raise InvalidProofError(
            "the anchor was signed for another batch size or another department than the receipt's"
        )
    try:
        anchor_signer = action.recover(anchor_signature)
    except Exception as exc:  # eth-keys raises several kinds for garbage signatures
        raise InvalidProofError(f"the anchor's signature does not recover: {exc}") from exc
    if anchor_signer.lower() != signer.lower():
        raise InvalidProofError(
            f"the root was signed by {anchor_signer}, the receipt by {signer}: not the same key"
        )
    return OfflineFacts(
        receipt=receipt, domain=domain, digest=digest, signer=signer, root=root, tree_size=size
    )


def _domain_of(document: Any) -> Domain:
    return Domain(
        name=str(document["name"]),
        version=str(document["version"]),
        chain_id=int(document["chainId"]),
        verifying_contract=str(document["verifyingContract"]),
    )


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)
