"""Request and response bodies. Requests are strict: unknown fields are rejected, hashes are
exactly 32 bytes as 0x-hex, sizes are bounded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)
from starlette.convertors import Convertor, register_url_convertor

HEX32_PATTERN = r"^0x[0-9a-fA-F]{64}$"
Hex32 = Annotated[
    str,
    StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$"),
    AfterValidator(str.lower),
    Field(description="32 bytes as 0x followed by 64 hex digits", examples=["0x" + "ab" * 32]),
]
Hex65 = Annotated[
    str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$"), AfterValidator(str.lower)
]
Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
#: The largest integer this API takes or gives where the chain allows more (uint64 ids, nonces,
#: times): 2**53 - 1, the largest every JSON reader gets exactly. JavaScript (a browser, ethers)
#: reads JSON numbers as doubles and would silently change a larger id; no realistic department
#: id, block number, nonce or Unix time comes near it. (The contract caps department ids at
#: 2**63 - 1; one enrolled on chain above 2**53 - 1 is indexed, but not addressable here.)
MAX_JSON_INT = 2**53 - 1
Uint64 = Annotated[int, Field(ge=0, le=MAX_JSON_INT)]
MAX_DEPARTMENT_ID = MAX_JSON_INT
DepartmentId = Annotated[
    int, Field(ge=1, le=MAX_DEPARTMENT_ID, description="Stable department id, 1 to 2**53 - 1")
]
#: On chain a uint32.
MAX_VERSION = 2**32 - 1


def _nonzero(value: str) -> str:
    if int(value, 16) == 0:
        raise ValueError("must not be zero: no file hashes to 32 zero bytes")
    return value


#: The SHA-256 of a file's bytes (zero is refused: the contracts use it for "none").
ContentHash = Annotated[
    str,
    StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$"),
    AfterValidator(str.lower),
    AfterValidator(_nonzero),
    Field(
        description="SHA-256 of the bytes: 0x followed by 64 hex digits, not all zero",
        examples=["0x" + "ab" * 32],
        json_schema_extra={"not": {"pattern": "^0x0{64}$"}},
    ),
]


# Path and query parameters, bounded where they are declared: a value out of range is a 422
# naming the parameter, never an overflow deep in SQL or ABI encoding (and the bounds are in
# the OpenAPI document, so clients and fuzzers know them).
class _DatasetSegment(Convertor[str]):
    """A path segment where a dataset id goes: anything but ``batch``.

    ``/v1/datasets/batch`` is the bulk endpoint (POST) and would also fit
    ``/v1/datasets/{dataset_id}`` (GET); without this a GET of it answered 422 "not a dataset
    id" instead of 405 with ``Allow: POST``. Anything else still reaches the handler, whose
    parameter validation names a malformed id in words.
    """

    regex = r"(?!batch$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("dataset", _DatasetSegment())

DatasetIdPath = Annotated[
    str, Path(pattern=HEX32_PATTERN, description="Dataset id: 0x followed by 64 hex digits")
]
RequestIdPath = Annotated[
    str,
    Path(pattern=HEX32_PATTERN, description="Access request (or grant) id: 0x + 64 hex digits"),
]
ReceiptIdPath = Annotated[
    str, Path(pattern=HEX32_PATTERN, description="Receipt id: its EIP-712 digest, 0x-hex")
]
VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Version number, from 1")]
DepartmentIdPath = Annotated[
    int, Path(ge=1, le=MAX_DEPARTMENT_ID, description="Department id, 1 to 2**53 - 1")
]
TokenIdPath = Annotated[
    str, Path(pattern=r"^tok_[0-9a-f]{16}$", description="A token's public id (tok_…)")
]
OperationIdPath = Annotated[
    str, Path(pattern=r"^op_[0-9a-f]{32}$", description="An operation id (op_…)")
]
DepartmentIdQuery = Annotated[
    int, Query(ge=1, le=MAX_DEPARTMENT_ID, description="Department id, 1 to 2**53 - 1")
]
OptionalDepartmentIdQuery = Annotated[
    int | None, Query(ge=1, le=MAX_DEPARTMENT_ID, description="Department id, 1 to 2**53 - 1")
]
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_VERSION, description="Version number")]
BlockQuery = Annotated[int | None, Query(ge=0, le=MAX_JSON_INT, description="Block number")]
DatasetIdQuery = Annotated[
    str | None, Query(pattern=HEX32_PATTERN, description="Dataset id: 0x + 64 hex digits")
]

Classification = Literal["public", "internal", "restricted", "confidential"]
Anchoring = Literal["chain", "batch"]
CLASSIFICATIONS: tuple[str, ...] = ("public", "internal", "restricted", "confidential")


def _utf8_at_most(limit: int) -> AfterValidator:
    """At most ``limit`` bytes of UTF-8: for text that goes on chain, where the contract counts
    bytes. (JSON Schema can only count characters; the document says bytes in words.)"""

    def check(value: str) -> str:
        if len(value.encode()) > limit:
            raise ValueError(f"must be at most {limit} bytes of UTF-8")
        return value

    return AfterValidator(check)


def _text(limit: int, *, required: bool = False) -> StringConstraints:
    """Off-chain text of at most ``limit`` characters (stored by this service, hashed on
    chain): a limit in characters, as the OpenAPI document can state it exactly."""
    return StringConstraints(min_length=1 if required else 0, max_length=limit)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# --- departments and tokens ----------------------------------------------------------------


class DepartmentCreate(Strict):
    department_id: DepartmentId
    name: Annotated[
        str,
        StringConstraints(min_length=1, max_length=128),
        _utf8_at_most(128),
        Field(description="At most 128 bytes of UTF-8 (the contract's limit)"),
    ]
    signer_address: Address | None = Field(
        None,
        description="The department's own signing key. Omit to have the service generate and "
        "custody one (encrypted keystore).",
    )


class DepartmentEnrolled(BaseModel):
    department_id: int
    name: str
    address: str
    custodial: bool
    token_id: str
    token: str = Field(description="Shown once; store it. Only its hash is kept.")
    operation_id: str


class KeyRotation(Strict):
    signer_address: Address | None = Field(
        None,
        description="New key held by the department, never used by any department before; "
        "omit (or send no body) for a new custodial key.",
    )


class Suspension(Strict):
    reason: Annotated[str, _text(2000)] = ""


class TokenIssue(Strict):
    label: Annotated[str, _text(200)] = ""


class TokenIssued(BaseModel):
    token_id: str
    token: str
    kind: str
    department_id: int | None


# --- encryption keys -----------------------------------------------------------------------

#: The longest public key in the API's encoding: 2 bytes of KEM id and the hybrid's 1,216 bytes.
_MAX_ENCODED_KEY_HEX = 2 + 2 * (2 + 1216)
#: A public key as the API spells it everywhere: 0x-hex of the KEM id (two bytes, big-endian:
#: 0020 X25519, 647a MLKEM768-X25519) followed by the raw key of that KEM's length. Bounded
#: before the pattern runs; a KEM or a length the directory does not take is refused here.
EncodedPublicKey = Annotated[
    str,
    StringConstraints(
        max_length=_MAX_ENCODED_KEY_HEX,
        pattern=r"^0x(?:0020[0-9a-fA-F]{64}|647[aA][0-9a-fA-F]{2432})$",
    ),
    AfterValidator(str.lower),
    Field(
        description="0x-hex of the key's encoding: its HPKE KEM id in two bytes, big-endian "
        "(0020 X25519, 647a MLKEM768-X25519), then the raw public key (32 or 1,216 bytes)",
        examples=["0x0020" + "ab" * 32],
    ),
]
KemName = Literal["x25519", "mlkem768-x25519"]


class EncryptionKeyPublish(Strict):
    """Publish the department's encryption key: with no ``public_key`` the service generates
    the key pair (of ``kem``, default the post-quantum hybrid) and keeps its private half; with
    one, the department holds the private half, and signs with ``signature`` unless the
    service holds its signing key."""

    kem: KemName | None = Field(
        None,
        description="The KEM of the key pair the service generates (default mlkem768-x25519); "
        "with public_key, if given, it must be the key's",
    )
    public_key: EncodedPublicKey | None = None
    signature: Signature | None = None


# --- department actions --------------------------------------------------------------------


class Signature(Strict):
    """The department's own EIP-712 signature, when the service does not hold its key."""

    nonce: Uint64
    deadline: Uint64
    signature: Hex65


#: A wrapped content key's encoding (``ledger.sealing.wrapping``): 1,203 bytes for the hybrid
#: KEM, 115 for X25519; bounded with room for a larger KEM, never more.
WrappedKeyHex = Annotated[
    str,
    StringConstraints(pattern=r"^0x([0-9a-fA-F]{2}){35,4096}$"),
    AfterValidator(str.lower),
    Field(description="A content key wrapped with HPKE: 0x-hex of its encoding"),
]


class SealedUpload(Strict):
    """A sealed version: its sealed bytes, uploaded first (``PUT /v1/blobs/sha256/…``), and the
    content key wrapped (in the department's client) to its own encryption key in force."""

    sha256: Hex32 = Field(description="SHA-256 of the sealed bytes (the blob's name)")
    size: Annotated[int, Field(ge=1, le=MAX_JSON_INT, description="Size of the sealed bytes")]
    wrapped_key: WrappedKeyHex


class ReceiptSignature(Strict):
    """The receiving department's own signature of the receipt's EIP-712 typed data
    (``provledger.Receipts`` domain: the deployment's chain id and access registry)."""

    signature: Hex65


class ReceiptBody(Strict):
    """A department's receipt of a sealed version it fetched."""

    dataset_id: Hex32
    version: Annotated[int, Field(ge=1, le=MAX_VERSION)]
    content_hash: Hex32 = Field(description="SHA-256 of the plaintext, as on chain")
    sealed_sha256: Hex32 = Field(description="SHA-256 of the sealed bytes fetched")
    request_id: Hex32 | None = Field(
        default=None, description="The grant it was fetched under (default: the one indexed)"
    )
    time: Uint64 | None = Field(
        default=None, description="Unix seconds, within minutes of the chain's (default: now)"
    )
    signature: ReceiptSignature | None = Field(
        default=None, description="Absent: the service signs with the custodial key"
    )


class WrappedKeyHandover(Strict):
    """A content key of a sealed version, wrapped by its owner's client to a department."""

    sealed_sha256: Hex32
    department_id: DepartmentId
    wrapped_key: WrappedKeyHex


class ParentRef(Strict):
    dataset_id: Hex32
    version: Annotated[int, Field(ge=1, lt=2**32)]


class DatasetMetadata(Strict):
    title: Annotated[str, _text(300, required=True)]
    description: Annotated[str, _text(10_000)] = ""
    licence: Annotated[str, _text(200)] = ""
    source_system: Annotated[str, _text(300)] = ""
    tags: Annotated[list[Annotated[str, _text(64)]], Field(max_length=32)] = []


class VersionMetadata(Strict):
    note: Annotated[str, _text(10_000)] = ""
    tags: Annotated[list[Annotated[str, _text(64)]], Field(max_length=32)] = []


class DatasetCreate(Strict):
    content_hash: ContentHash
    classification: Classification = "internal"
    metadata: DatasetMetadata
    parents: Annotated[list[ParentRef], Field(max_length=64)] = []
    salt: Hex32 | None = Field(None, description="Chosen by the client to know the id in advance.")
    signature: Signature | None = None
    anchoring: Anchoring = Field(
        "chain",
        description="chain: every version is its own transaction and event; batch: versions "
        "are records of Merkle batches, one signed anchor per batch (for high volume; the "
        "department's key must be custodial). Fixed for the dataset's life.",
    )
    sealed: SealedUpload | None = Field(
        None, description="The version is shared sealed (needs salt, and anchoring chain)."
    )

    @model_validator(mode="after")
    def _batched_is_unsigned(self) -> DatasetCreate:
        if self.anchoring == "batch" and self.signature is not None:
            raise ValueError(
                "a batched dataset's records are signed as a batch root by the custodial key: "
                "send no signature, or choose anchoring 'chain'"
            )
        if self.anchoring == "batch" and self.sealed is not None:
            raise ValueError(
                "a sealed version is shared under grants of the access contract, which knows "
                "only datasets on chain: choose anchoring 'chain'"
            )
        return self


#: :meth:`DatasetCreate._batched_is_unsigned`, for the OpenAPI document.
BATCHED_IS_UNSIGNED: dict[str, Any] = {
    "if": {"required": ["anchoring"], "properties": {"anchoring": {"const": "batch"}}},
    "then": {
        "allOf": [
            {"not": {"required": ["signature"], "properties": {"signature": {"type": "object"}}}},
            {"not": {"required": ["sealed"], "properties": {"sealed": {"type": "object"}}}},
        ]
    },
}


class VersionCreate(Strict):
    content_hash: ContentHash
    metadata: VersionMetadata = VersionMetadata()
    parents: Annotated[list[ParentRef], Field(max_length=64)] = []
    signature: Signature | None = None
    sealed: SealedUpload | None = None


class Withdrawal(Strict):
    reason: Annotated[str, _text(2000)] = ""
    signature: Signature | None = None


class AccessRequestCreate(Strict):
    purpose: Annotated[str, _text(10_000, required=True)]
    duration_seconds: Annotated[int, Field(ge=1, le=3650 * 24 * 3600)]
    salt: Hex32 | None = None
    signature: Signature | None = None


class AccessApproval(Strict):
    expires_at: Annotated[int, Field(ge=1, le=MAX_JSON_INT, description="Unix time the grant ends")]
    signature: Signature | None = None


class AccessAnswer(Strict):
    reason: Annotated[str, _text(10_000)] = ""
    signature: Signature | None = None


class AccessCancel(Strict):
    signature: Signature | None = None


def describe_batch_entry(schema: dict[str, Any]) -> None:
    """Complete the OpenAPI schema of :class:`BatchEntry` with what its validator checks, so
    that clients and fuzzers know it: without ``dataset_id`` the record creates a dataset (its
    metadata is DatasetMetadata, title required); with one it adds a version (VersionMetadata;
    no salt, no classification). Pydantic cannot derive this, and it resolves any ``$ref`` in a
    model's own schema extras, so the document's builder (:mod:`api.openapi`) applies it."""
    schema["properties"]["metadata"] = {
        "type": "object",
        "description": "DatasetMetadata when creating a dataset, else VersionMetadata",
    }
    schema["if"] = {"required": ["dataset_id"], "properties": {"dataset_id": {"type": "string"}}}
    schema["then"] = {
        "properties": {
            "metadata": {"$ref": "#/components/schemas/VersionMetadata"},
            "salt": {"type": "null"},
            "classification": {"const": "internal"},
        }
    }
    schema["else"] = {
        "required": ["metadata"],
        "properties": {"metadata": {"$ref": "#/components/schemas/DatasetMetadata"}},
    }


class BatchEntry(Strict):
    """One record of a bulk registration: a new batched dataset (omit ``dataset_id``; send the
    dataset's ``metadata``) or a new version of one (``dataset_id``; ``metadata`` is the
    version's note and tags)."""

    content_hash: ContentHash
    dataset_id: Hex32 | None = Field(
        None,
        description="A batched dataset of the department, or one created earlier in this "
        "request; omit to create a dataset.",
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="DatasetMetadata when creating a dataset, else VersionMetadata",
    )
    classification: Classification = "internal"
    parents: Annotated[list[ParentRef], Field(max_length=64)] = []
    salt: Hex32 | None = None

    _document: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _metadata_fits(self) -> BatchEntry:
        if self.dataset_id is None:
            dataset = DatasetMetadata.model_validate(self.metadata)
            self._document = {"classification": self.classification, **dataset.model_dump()}
        else:
            self._document = VersionMetadata.model_validate(self.metadata).model_dump()
            if self.salt is not None or self.classification != "internal":
                raise ValueError("salt and classification belong to a new dataset only")
        return self

    def metadata_document(self) -> dict[str, Any]:
        """The metadata document committed on chain, shaped as the single-record routes shape
        it (a dataset's carries its classification)."""
        return self._document


#: Records one bulk request may carry: 10,000 records is ~4 MB of JSON.
MAX_BATCH_ENTRIES = 10_000


class BatchRegistration(Strict):
    records: Annotated[list[BatchEntry], Field(min_length=1, max_length=MAX_BATCH_ENTRIES)]


class BatchRecordAccepted(BaseModel):
    operation_id: str
    dataset_id: str
    version: int
    content_hash: str


class BatchAccepted(BaseModel):
    """The records were stored, in order; each becomes confirmed with its inclusion proof."""

    count: int
    status: str
    records: list[BatchRecordAccepted]


class VerifyRequest(Strict):
    content_hash: Hex32


class VerifyBatchRequest(Strict):
    """Up to 10,000 hashes verified in one request (a catalogue audit)."""

    content_hashes: list[Hex32] = Field(min_length=1, max_length=10_000)
    detail: Literal["summary", "full"] = Field(
        "summary",
        description="`summary`: each hash's status and, per registration, who, what and where; "
        "`full`: each hash's whole verdict as `POST /v1/verify` answers it (signed documents "
        "and inclusion proofs: about ten times larger).",
    )


class VerifyBatchAnswer(BaseModel):
    """One answer per hash, in the order asked, all as of one block."""

    verified_at_block: int
    counts: dict[str, int] = Field(
        description="How many hashes got each status: matched, withdrawn, not-registered, "
        "signature-invalid, history-incomplete."
    )
    results: list[dict[str, Any]]


class Accepted(BaseModel):
    """A write was stored and will be sent to the chain; follow ``operation_url``."""

    operation_id: str
    operation_url: str
    status: str
    resource: dict[str, Any] = {}
    deferred: bool = Field(
        False,
        description="Accepted while the chain was unreachable: its checks run when the chain is "
        "back, and a refusal then fails the operation with the reason.",
    )


# --- operations ----------------------------------------------------------------------------


class ChainCoordinates(BaseModel):
    chain_id: int
    contract: str
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None


class OperationError(BaseModel):
    code: str
    message: str


class OperationPublic(BaseModel):
    id: str
    kind: str
    status: Literal["pending", "submitted", "confirmed", "failed"]
    department_id: int | None
    confirmations: int = Field(description="Blocks from its block to the head, itself included.")
    required_confirmations: int
    final: bool = Field(
        description="Its block is at or below the chain's finalized block: no reorg can undo "
        "it. Until then a confirmed operation is watched; a reorg deeper than K sends it back "
        "to submitted (and counts in `reorged`)."
    )
    reorged: int = Field(
        description="Times its mined transaction left the canonical chain and was sent again."
    )
    chain_available: bool = Field(
        description="Whether the node answered just now; if not, confirmations are counted "
        "from the last head seen."
    )
    chain: ChainCoordinates
    gas_used: int | None
    result: dict[str, Any]
    error: OperationError | None
    created_at: datetime
    updated_at: datetime
