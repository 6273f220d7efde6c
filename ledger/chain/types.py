"""Value types exchanged with the contracts, in Python shape (snake_case, bytes, enums)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import InvalidInputError

ZERO32 = bytes(32)


def as_bytes32(value: bytes | Any, what: str = "value") -> bytes:
    """``value`` (bytes or a ``Digest``) as exactly 32 bytes."""
    raw = bytes(value)
    if len(raw) != 32:
        raise InvalidInputError(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


class DepartmentStatus(enum.IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class RequestStatus(enum.IntEnum):
    NONE = 0
    PENDING = 1
    APPROVED = 2
    DENIED = 3
    CANCELLED = 4
    REVOKED = 5
    SUPERSEDED = 6


class Classification(enum.IntEnum):
    PUBLIC = 0
    INTERNAL = 1
    RESTRICTED = 2
    CONFIDENTIAL = 3


@dataclass(frozen=True, slots=True)
class VersionRef:
    """Version ``version`` (from 1) of dataset ``dataset_id``."""

    dataset_id: bytes
    version: int

    def __post_init__(self) -> None:
        as_bytes32(self.dataset_id, "dataset id")
        if not 0 <= self.version < 2**32:
            raise InvalidInputError(f"version must fit in 32 bits, got {self.version}")

    def as_abi(self) -> tuple[bytes, int]:
        return (bytes(self.dataset_id), self.version)

    def as_typed(self) -> dict[str, Any]:
        return {"datasetId": bytes(self.dataset_id), "version": self.version}


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version to append: content hash, metadata hash and the versions it derives from."""

    content_hash: bytes
    metadata_hash: bytes = ZERO32
    parents: tuple[VersionRef, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "content_hash", as_bytes32(self.content_hash, "content hash"))
        object.__setattr__(self, "metadata_hash", as_bytes32(self.metadata_hash, "metadata hash"))
        object.__setattr__(self, "parents", tuple(self.parents))

    def as_abi(self) -> tuple[bytes, bytes, list[tuple[bytes, int]]]:
        return (self.content_hash, self.metadata_hash, [p.as_abi() for p in self.parents])


@dataclass(frozen=True, slots=True, kw_only=True)
class Authorization:
    """A department's EIP-712 signature over one action, for a relayer to submit."""

    department_id: int
    nonce: int
    deadline: int
    signature: bytes

    def as_abi(self) -> tuple[int, int, int, bytes]:
        return (self.department_id, self.nonce, self.deadline, self.signature)

    @classmethod
    def from_abi(cls, value: Any) -> Authorization:
        """From decoded calldata: a tuple, or a mapping by the struct's field names."""
        if not isinstance(value, tuple):
            value = (value["departmentId"], value["nonce"], value["deadline"], value["signature"])
        department_id, nonce, deadline, signature = value
        return cls(
            department_id=int(department_id),
            nonce=int(nonce),
            deadline=int(deadline),
            signature=bytes(signature),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DepartmentRecord:
    department_id: int
    signer: str
    status: DepartmentStatus
    enrolled_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetRecord:
    dataset_id: bytes
    owner: int
    version_count: int
    classification: Classification
    withdrawn: bool
    created_at: int
    history_head: bytes

    @property
    def exists(self) -> bool:
        return self.owner != 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRequestRecord:
    request_id: bytes
    dataset_id: bytes
    requester: int
    status: RequestStatus
    requested_duration: int
    expires_at: int
    #: How many events the request has emitted, and the hash chain over them
    #: (``IAccessRegistry.AccessRequest.historyHead``).
    event_count: int = 0
    history_head: bytes = bytes(32)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnchorRecord:
    root: bytes
    department: int
    size: int
    anchored_at: int


class Kem(enum.IntEnum):
    """HPKE KEM identifiers (RFC 9180 registry) the key directory accepts."""

    X25519 = 0x0020  # DHKEM(X25519, HKDF-SHA256), RFC 9180
    MLKEM768_X25519 = 0x647A  # X-Wing, draft-ietf-hpke-pq; cryptography's KEM.MLKEM768_X25519

    @property
    def public_key_length(self) -> int:
        """RFC 9180 ``Npk``: the length of a serialized public key, which the contract checks."""
        return _KEM_PUBLIC_KEY_LENGTHS[self]


_KEM_PUBLIC_KEY_LENGTHS = {Kem.X25519: 32, Kem.MLKEM768_X25519: 1184 + 32}


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptionKeyRecord:
    """A department's encryption key as the key directory stores it (serial 0: none)."""

    department_id: int
    key_hash: bytes
    kem_id: int
    serial: int
    published_at: int

    @property
    def exists(self) -> bool:
        return self.serial != 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishedKey:
    """One ``EncryptionKeyPublished`` event: the full public key, which only the log keeps."""

    department_id: int
    serial: int
    kem_id: int
    key_hash: bytes
    public_key: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A decoded contract event with the chain coordinates to re-check it anywhere."""

    name: str
    args: dict[str, Any]
    address: str
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int
