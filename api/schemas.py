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
Uint64 = Annotated[int, Field(ge=0, lt=2**64)]
#: On chain a uint64, capped by the contract at 2**63 - 1 so it fits signed 64-bit SQL columns.
MAX_DEPARTMENT_ID = 2**63 - 1
DepartmentId = Annotated[
    int, Field(ge=1, le=MAX_DEPARTMENT_ID, description="Stable department id, 1 to 2**63 - 1")
]
#: On chain a uint32.
MAX_VERSION = 2**32 - 1
#: Block numbers and times as the index stores them: signed 64-bit SQL integers.
MAX_INT64 = 2**63 - 1

# Path and query parameters, bounded where they are declared: a value out of range is a 422
# naming the parameter, never an overflow deep in SQL or ABI encoding (and the bounds are in
# the OpenAPI document, so clients and fuzzers know them).
DatasetIdPath = Annotated[
    str, Path(pattern=HEX32_PATTERN, description="Dataset id: 0x followed by 64 hex digits")
]
RequestIdPath = Annotated[
    str,
    Path(pattern=HEX32_PATTERN, description="Access request (or grant) id: 0x + 64 hex digits"),
]
VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Version number, from 1")]
DepartmentIdPath = Annotated[
    int, Path(ge=1, le=MAX_DEPARTMENT_ID, description="Department id, 1 to 2**63 - 1")
]
TokenIdPath = Annotated[
    str, Path(pattern=r"^tok_[0-9a-f]{16}$", description="A token's public id (tok_…)")
]
OperationIdPath = Annotated[
    str, Path(pattern=r"^op_[0-9a-f]{32}$", description="An operation id (op_…)")
]
DepartmentIdQuery = Annotated[
    int, Query(ge=1, le=MAX_DEPARTMENT_ID, description="Department id, 1 to 2**63 - 1")
]
OptionalDepartmentIdQuery = Annotated[
    int | None, Query(ge=1, le=MAX_DEPARTMENT_ID, description="Department id, 1 to 2**63 - 1")
]
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_VERSION, description="Version number")]
BlockQuery = Annotated[int | None, Query(ge=0, le=MAX_INT64, description="Block number")]
DatasetIdQuery = Annotated[
    str | None, Query(pattern=HEX32_PATTERN, description="Dataset id: 0x + 64 hex digits")
]
CursorQuery = Annotated[
    str | None, Query(max_length=512, description="next_cursor of the previous page")
]

Classification = Literal["public", "internal", "restricted", "confidential"]
Anchoring = Literal["chain", "batch"]
CLASSIFICATIONS: tuple[str, ...] = ("public", "internal", "restricted", "confidential")


def _utf8_at_most(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value.encode()) > limit:
            raise ValueError(f"must be at most {limit} bytes of UTF-8")
        return value

    return AfterValidator(check)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# --- departments and tokens ----------------------------------------------------------------


class DepartmentCreate(Strict):
    department_id: DepartmentId
    name: Annotated[str, StringConstraints(min_length=1), _utf8_at_most(128)]
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
    reason: Annotated[str, _utf8_at_most(2000)] = ""


class TokenIssue(Strict):
    label: Annotated[str, _utf8_at_most(200)] = ""


class TokenIssued(BaseModel):
    token_id: str
    token: str
    kind: str
    department_id: int | None


# --- department actions --------------------------------------------------------------------


class Signature(Strict):
    """The department's own EIP-712 signature, when the service does not hold its key."""

    nonce: Uint64
    deadline: Uint64
    signature: Hex65


class ParentRef(Strict):
    dataset_id: Hex32
    version: Annotated[int, Field(ge=1, lt=2**32)]


class DatasetMetadata(Strict):
    title: Annotated[str, StringConstraints(min_length=1), _utf8_at_most(300)]
    description: Annotated[str, _utf8_at_most(10_000)] = ""
    licence: Annotated[str, _utf8_at_most(200)] = ""
    source_system: Annotated[str, _utf8_at_most(300)] = ""
    tags: Annotated[list[Annotated[str, _utf8_at_most(64)]], Field(max_length=32)] = []


class VersionMetadata(Strict):
    note: Annotated[str, _utf8_at_most(10_000)] = ""
    tags: Annotated[list[Annotated[str, _utf8_at_most(64)]], Field(max_length=32)] = []


class DatasetCreate(Strict):
    content_hash: Hex32
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


class VersionCreate(Strict):
    content_hash: Hex32
    metadata: VersionMetadata = VersionMetadata()
    parents: Annotated[list[ParentRef], Field(max_length=64)] = []
    signature: Signature | None = None


class Withdrawal(Strict):
    reason: Annotated[str, _utf8_at_most(2000)] = ""
    signature: Signature | None = None


class AccessRequestCreate(Strict):
    purpose: Annotated[str, StringConstraints(min_length=1), _utf8_at_most(10_000)]
    duration_seconds: Annotated[int, Field(ge=1, le=3650 * 24 * 3600)]
    salt: Hex32 | None = None
    signature: Signature | None = None


class AccessApproval(Strict):
    expires_at: Annotated[int, Field(ge=1, lt=2**64, description="Unix time the grant ends")]
    signature: Signature | None = None


class AccessAnswer(Strict):
    reason: Annotated[str, _utf8_at_most(10_000)] = ""
    signature: Signature | None = None


class AccessCancel(Strict):
    signature: Signature | None = None


class BatchEntry(Strict):
    """One record of a bulk registration: a new batched dataset (omit ``dataset_id``; send the
    dataset's ``metadata``) or a new version of one (``dataset_id``; ``metadata`` is the
    version's note and tags)."""

    content_hash: Hex32
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


class Accepted(BaseModel):
    """A write was stored and will be sent to the chain; follow ``operation_url``."""

    operation_id: str
    operation_url: str
    status: str
    resource: dict[str, Any] = {}


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
    confirmations: int
    required_confirmations: int
    chain: ChainCoordinates
    gas_used: int | None
    result: dict[str, Any]
    error: OperationError | None
    created_at: datetime
    updated_at: datetime
