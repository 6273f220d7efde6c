"""Sealed versions: data shared encrypted, readable by the owner and its grantees only.

A department seals a file in its own client (``docs/sealed-format.md``: a fresh content key,
chunked AES-256-GCM), uploads the sealed bytes to the blob store, and registers the version as
usual (the chain holds the plaintext's SHA-256) with the sealed bytes' description in its
metadata, so the chain commits to the sealed bytes' hash too. The content key travels only
wrapped (HPKE, :mod:`ledger.sealing.wrapping`) to a department's encryption key published on
chain, first to the owner's own key.

Who can read is the chain's to say: the sealed bytes and a wrapped key are handed out only while
the contract's ``hasAccess`` is true for the caller at the current block (never the index's
view), so a revocation, an expiry or a suspension stops downloads at once.

Wrapping to grantees: for a department whose encryption key the service holds (custodial), the
service unwraps the owner's copy and wraps the content key to the grantee's key in force, when
the owner approves a request and when it seals a new version for departments that hold a grant.
A self-custody owner wraps in its own client and hands the wrapped key over
(:func:`add_wrapped_key`); the service never sees its content keys. A wrapped key handed over is
checked against the recipient's key on chain (its fingerprint is the directory's ``keyHash``);
one the service can open (custodial) is also checked against the sealed bytes' key commitment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, Session, SQLModel, col, select

from ledger.blobs import StoredBlob
from ledger.errors import (
    AccessExpiredError,
    AccessNotGrantedError,
    AccessRevokedError,
    BlobNotFoundError,
    InvalidInputError,
    KeyDirectoryDepartmentInactiveError,
    KeyDirectoryNoKeyError,
    NotSealedError,
    RecipientKeyMissingError,
    ResourceNotFoundError,
    SealedBlobMissingError,
    WrappedKeyError,
    WrappedKeyNotFoundError,
    WrappedKeyRecipientError,
)
from ledger.hashing import Digest
from ledger.index.models import IndexAccessRequest, IndexVersion
from ledger.runtime import Runtime
from ledger.sealing import (
    EncryptionKeyPair,
    Header,
    KeyBinding,
    WrappedKey,
    read_header,
    unwrap_content_key,
    wrap_content_key,
)
from ledger.sealing.keypairs import EncryptionPublicKey
from ledger.service.documents import MetadataDocument
from ledger.service.principal import Principal, PrincipalKind

#: The metadata key of a sealed version's description, and its format's number.
SEALED_KEY = "sealed"
SEALED_FORMAT = 1


def _now() -> datetime:
    return datetime.now(UTC)


class SealedKey(SQLModel, table=True):
    """A sealed version's content key, wrapped to one department's encryption key."""

    __tablename__ = "api_sealed_keys"
    __table_args__ = (Index("ix_api_sealed_keys_recipient", "dataset_id", "department_id"),)

    dataset_id: str = Field(primary_key=True)  # 0x-hex
    sealed_sha256: str = Field(primary_key=True)  # 0x-hex: the blob's name
    department_id: int = Field(sa_type=BigInteger, primary_key=True)  # the recipient
    fingerprint: str = Field(primary_key=True)  # 0x-hex keccak256 of the recipient's key
    wrapped_key: str = Field(sa_column=Column(Text, nullable=False))  # 0x-hex encoding
    wrapped_by: int = Field(sa_type=BigInteger)  # the department that wrapped it
    created_at: datetime = Field(default_factory=_now)


@dataclass(frozen=True, slots=True, kw_only=True)
class SealedContent:
    """A sealed version as its owner registers it: the sealed bytes (uploaded first) and the
    content key wrapped to the owner's own encryption key in force."""

    sha256: Digest
    size: int
    wrapped_key: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SealedVersion:
    """Where a version's sealed bytes are, as its metadata on chain describes them."""

    dataset_id: bytes
    version: int
    content_hash: bytes  # the plaintext's SHA-256, on chain
    sha256: Digest  # the sealed bytes'
    size: int
    chunk_size: int
    owner: int

    def description(self) -> dict[str, Any]:
        return {
            "format": SEALED_FORMAT,
            "sha256": "0x" + self.sha256.value.hex(),
            "size": self.size,
            "chunk_size": self.chunk_size,
        }


@dataclass(frozen=True, slots=True)
class SealedLookup:
    """A sealed version of a dataset: ``version`` None is the latest."""

    dataset_id: bytes
    version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AddWrappedKey:
    """A self-custody owner hands over a content key it wrapped to ``department_id``."""

    dataset_id: bytes
    sealed_sha256: Digest
    department_id: int
    wrapped_key: bytes


# --- the blob store ---------------------------------------------------------------------------


class _HeaderChecked:
    """A stream whose first bytes must be a sealed stream's header: the store keeps sealed
    bytes only, and refusing anything else at once costs nothing."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._pending = memoryview(read_header(stream).raw)

    def readinto(self, view: memoryview) -> int:
        if self._pending:
            count = min(len(view), len(self._pending))
            view[:count] = self._pending[:count]
            self._pending = self._pending[count:]
            return count
        read = self._stream.readinto(view)  # type: ignore[attr-defined]
        return int(read or 0)


def store_sealed_blob(
    runtime: Runtime, principal: Principal, stream: BinaryIO, expected: Digest
) -> StoredBlob:
    """Keep the sealed bytes of ``stream``, which must hash to ``expected``; departments only
    (what they upload is theirs to register). Blocking: run it on a worker thread."""
    principal.require(PrincipalKind.DEPARTMENT)
    if runtime.blobs.exists(expected):
        # Content-addressed: the same bytes are there already. The caller's body is not read.
        return StoredBlob(expected, runtime.blobs.size(expected), created=False)
    return runtime.blobs.put(
        _HeaderChecked(stream),  # type: ignore[arg-type]
        expected=expected,
        max_size=runtime.settings.max_sealed_bytes,
    )


# --- registering a sealed version -------------------------------------------------------------


def binding(runtime: Runtime, dataset_id: bytes, sealed: Digest, department_id: int) -> KeyBinding:
    """The context a content key of ``sealed`` is wrapped for, to ``department_id``."""
    return KeyBinding(
        chain_id=runtime.chain.chain_id,
        registry=runtime.ledger.datasets.address,
        dataset_id=dataset_id,
        sealed_sha256=sealed,
        recipient_department=department_id,
    )


def recipient_key(runtime: Runtime, department_id: int) -> tuple[int, bytes]:
    """The serial and ``keyHash`` of ``department_id``'s encryption key in force on chain;
    :class:`RecipientKeyMissingError` when it has none or is suspended."""
    try:
        record = runtime.ledger.keys.require_usable_key(department_id)
    except (KeyDirectoryNoKeyError, KeyDirectoryDepartmentInactiveError) as exc:
        raise RecipientKeyMissingError(
            f"department {department_id} has no usable encryption key on chain "
            f"({exc.code}): it must publish one (POST /v1/departments/{department_id}/"
            "encryption-keys) before a content key can be wrapped to it",
        ) from exc
    return record.serial, record.key_hash


def sealed_registration(
    session: Session,
    runtime: Runtime,
    department_id: int,
    dataset_id: bytes,
    sealed: SealedContent,
) -> tuple[dict[str, Any], bytes | None]:
    """Check a sealed version about to be registered and record the owner's wrapped key; the
    metadata description to commit with the version, and the content key when the service
    holds the owner's encryption key (to wrap it to grantees), else None. Not committed."""
    try:
        size = runtime.blobs.size(sealed.sha256)
    except BlobNotFoundError:
        raise SealedBlobMissingError(
            f"the blob store holds no sealed bytes {sealed.sha256}: upload them first "
            f"(PUT /v1/blobs/sha256/{sealed.sha256.value.hex()})"
        ) from None
    if size != sealed.size:
        raise SealedBlobMissingError(
            f"the sealed bytes {sealed.sha256} are {size} bytes, not {sealed.size}"
        )
    with runtime.blobs.open(sealed.sha256) as stream:
        header = read_header(stream)
    wrapped = _decoded(sealed.wrapped_key)
    _, key_hash = recipient_key(runtime, department_id)
    _check_recipient(wrapped, key_hash, department_id)
    content_key = None
    own = runtime.encryption_key(department_id, wrapped.recipient_fingerprint)
    if own is not None:
        content_key = _opened(
            wrapped, own, binding(runtime, dataset_id, sealed.sha256, department_id), header
        )
    _keep(session, dataset_id, sealed.sha256, department_id, wrapped, wrapped_by=department_id)
    description = {
        "format": SEALED_FORMAT,
        "sha256": "0x" + sealed.sha256.value.hex(),
        "size": sealed.size,
        "chunk_size": header.chunk_size,
    }
    return description, content_key


def wrap_for_grantees(
    session: Session,
    runtime: Runtime,
    owner: int,
    dataset_id: bytes,
    sealed: Digest,
    content_key: bytes,
    *,
    grantees: Iterable[int] | None = None,
) -> list[int]:
    """Wrap ``content_key`` of ``sealed`` to each department holding a grant on the dataset
    (or to ``grantees``); the departments wrapped to. A grantee with no usable key is skipped:
    an owner may wrap to it once it has published one. Not committed."""
    if grantees is None:
        grantees = current_grantees(session, runtime, dataset_id)
    wrapped_to = []
    for grantee in grantees:
        try:
            serial, _ = recipient_key(runtime, grantee)
        except RecipientKeyMissingError:
            continue
        public = published_key(runtime, grantee, serial)
        wrapped = wrap_content_key(
            content_key, public, binding(runtime, dataset_id, sealed, grantee)
        )
        _keep(session, dataset_id, sealed, grantee, wrapped, wrapped_by=owner)
        wrapped_to.append(grantee)
    return wrapped_to


def wrap_dataset_for(
    session: Session, runtime: Runtime, owner: int, dataset_id: bytes, grantee: int
) -> int:
    """On approval by a custodial owner: wrap every sealed version's content key of the
    dataset to ``grantee``; how many. Refused (:class:`RecipientKeyMissingError`) when the
    dataset has sealed versions and the grantee no key: the grant would deliver nothing. An
    owner whose encryption key the service does not hold wraps in its client (0 here)."""
    rows = _owner_keys(session, dataset_id, owner)
    if not rows:
        return 0
    serial, _ = recipient_key(runtime, grantee)
    public = published_key(runtime, grantee, serial)
    count = 0
    for row in rows:
        sealed = Digest(bytes.fromhex(row.sealed_sha256[2:]))
        wrapped = WrappedKey.decode(bytes.fromhex(row.wrapped_key[2:]))
        own = runtime.encryption_key(owner, wrapped.recipient_fingerprint)
        if own is None:
            continue  # a self-custody owner: its client wraps
        content_key = unwrap_content_key(wrapped, own, binding(runtime, dataset_id, sealed, owner))
        again = wrap_content_key(content_key, public, binding(runtime, dataset_id, sealed, grantee))
        _keep(session, dataset_id, sealed, grantee, again, wrapped_by=owner)
        count += 1
    return count


def add_wrapped_key(
    session: Session, runtime: Runtime, principal: Principal, command: AddWrappedKey
) -> dict[str, Any]:
    """A self-custody owner hands over a content key it wrapped to a department; checked
    against that department's key in force on chain. Not committed."""
    principal.require(PrincipalKind.DEPARTMENT)
    owner = principal.acting_department()
    dataset_hex = "0x" + command.dataset_id.hex()
    record = runtime.ledger.datasets.dataset(command.dataset_id)
    if not record.exists:
        raise ResourceNotFoundError(f"no dataset {dataset_hex}")
    if record.owner != owner:
        raise AccessNotGrantedError(
            f"dataset {dataset_hex} is department {record.owner}'s: only its owner wraps its keys"
        )
    sealed_hex = "0x" + command.sealed_sha256.value.hex()
    if not _owner_keys(session, command.dataset_id, owner, sealed_hex):
        raise NotSealedError(f"dataset {dataset_hex} has no sealed version {sealed_hex}")
    wrapped = _decoded(command.wrapped_key)
    serial, key_hash = recipient_key(runtime, command.department_id)
    _check_recipient(wrapped, key_hash, command.department_id)
    _keep(
        session, command.dataset_id, command.sealed_sha256, command.department_id, wrapped,
        wrapped_by=owner,
    )  # fmt: skip
    return {
        "dataset_id": dataset_hex,
        "sealed_sha256": sealed_hex,
        "department_id": command.department_id,
        "key_serial": serial,
        "fingerprint": "0x" + key_hash.hex(),
    }


# --- fetching ----------------------------------------------------------------------------------


def sealed_version(session: Session, dataset_id: bytes, version: int | None) -> SealedVersion:
    """Version ``version`` of the dataset (the latest if None) and where its sealed bytes are,
    from the index and the metadata document its on-chain commitment names."""
    dataset_hex = "0x" + dataset_id.hex()
    query = select(IndexVersion).where(IndexVersion.dataset_id == dataset_hex)
    if version is None:
        query = query.order_by(col(IndexVersion.version).desc()).limit(1)
    else:
        query = query.where(IndexVersion.version == version)
    row = session.exec(query).first()
    if row is None:
        which = "any version" if version is None else f"version {version}"
        raise ResourceNotFoundError(
            f"dataset {dataset_hex} has no {which} (or it is not indexed yet)"
        )
    document = session.get(MetadataDocument, row.metadata_hash)
    description = (
        json.loads(document.canonical_json).get(SEALED_KEY) if document is not None else None
    )
    if not isinstance(description, dict):
        raise NotSealedError(
            f"version {row.version} of dataset {dataset_hex} was registered without sealed bytes"
        )
    return SealedVersion(
        dataset_id=dataset_id,
        version=row.version,
        content_hash=bytes.fromhex(row.content_hash[2:]),
        sha256=Digest(bytes.fromhex(description["sha256"][2:])),
        size=int(description["size"]),
        chunk_size=int(description["chunk_size"]),
        owner=row.department_id,
    )


def require_access(
    session: Session, runtime: Runtime, principal: Principal, dataset_id: bytes
) -> int:
    """The calling department, if the contract's ``hasAccess`` is true for it at the current
    block (owners included); :class:`AccessNotGrantedError` otherwise, or, when the index shows
    the department's grant ended, :class:`AccessRevokedError` or :class:`AccessExpiredError`.
    Governance and auditors are not departments and never fetch sealed data."""
    principal.require(PrincipalKind.DEPARTMENT)
    department = principal.acting_department()
    if runtime.ledger.access.has_access(dataset_id, department):
        return department
    dataset_hex = "0x" + dataset_id.hex()
    refusal = (
        f"department {department} has no access to dataset {dataset_hex} at the chain's "
        "current block"
    )
    last = session.exec(
        select(IndexAccessRequest)
        .where(
            IndexAccessRequest.dataset_id == dataset_hex,
            IndexAccessRequest.requester == department,
            col(IndexAccessRequest.answered_at).is_not(None),
        )
        .order_by(col(IndexAccessRequest.answered_at).desc())
        .limit(1)
    ).first()
    if last is not None and last.status == "revoked":
        raise AccessRevokedError(f"{refusal}: its grant {last.request_id} was revoked")
    if (
        last is not None
        and last.status == "approved"
        and last.expires_at is not None
        and last.expires_at <= runtime.chain.block_time()
    ):
        raise AccessExpiredError(f"{refusal}: its grant {last.request_id} has expired")
    raise AccessNotGrantedError(f"{refusal} (never granted, suspended, or the dataset withdrawn)")


def fetchable(
    session: Session, runtime: Runtime, principal: Principal, lookup: SealedLookup
) -> SealedVersion:
    """The sealed version a department may download now (the chain decides)."""
    require_access(session, runtime, principal, lookup.dataset_id)
    return sealed_version(session, lookup.dataset_id, lookup.version)


def wrapped_key_for(
    session: Session, runtime: Runtime, principal: Principal, lookup: SealedLookup
) -> dict[str, Any]:
    """The caller's wrapped content key of a sealed version, with everything its client needs
    to check and unwrap it: the binding and the recipient key's fingerprint."""
    dataset_id = lookup.dataset_id
    department = require_access(session, runtime, principal, dataset_id)
    sealed = sealed_version(session, dataset_id, lookup.version)
    row = _recipient_row(session, runtime, sealed, department)
    context = binding(runtime, dataset_id, sealed.sha256, department)
    return {
        **_version_fields(sealed),
        "recipient_department": department,
        "fingerprint": row.fingerprint,
        "wrapped_key": row.wrapped_key,
        "binding": {
            "chain_id": context.chain_id,
            "registry": runtime.ledger.datasets.address,
            "dataset_id": "0x" + dataset_id.hex(),
            "sealed_sha256": "0x" + sealed.sha256.value.hex(),
            "recipient_department": department,
        },
    }


def custodial_content_key(
    session: Session, runtime: Runtime, principal: Principal, lookup: SealedLookup
) -> dict[str, Any]:
    """The content key of a sealed version, unwrapped by the service with the calling
    department's custodial encryption key: what custody of that key means. A department that
    holds its own key unwraps :func:`wrapped_key_for`'s answer itself."""
    dataset_id = lookup.dataset_id
    department = require_access(session, runtime, principal, dataset_id)
    sealed = sealed_version(session, dataset_id, lookup.version)
    row = _recipient_row(session, runtime, sealed, department)
    wrapped = WrappedKey.decode(bytes.fromhex(row.wrapped_key[2:]))
    own = runtime.encryption_key(department, wrapped.recipient_fingerprint)
    if own is None:
        raise AccessNotGrantedError(
            f"department {department} holds its own encryption key: fetch the wrapped key "
            "and unwrap it in its client"
        )
    content_key = unwrap_content_key(
        wrapped, own, binding(runtime, dataset_id, sealed.sha256, department)
    )
    return {**_version_fields(sealed), "content_key": "0x" + content_key.hex()}


def current_grantees(session: Session, runtime: Runtime, dataset_id: bytes) -> list[int]:
    """Departments with an approved, unexpired grant on the dataset as indexed: whom a new
    version's key is wrapped to (wrapping to one more is harmless: fetches ask the chain)."""
    now = max(int(time.time()), runtime.chain.block_time())
    rows = session.exec(
        select(IndexAccessRequest.requester).where(
            IndexAccessRequest.dataset_id == "0x" + dataset_id.hex(),
            IndexAccessRequest.status == "approved",
            col(IndexAccessRequest.expires_at) > now,
        )
    ).all()
    return sorted(set(rows))


def published_key(runtime: Runtime, department_id: int, serial: int) -> EncryptionPublicKey:
    """The public key ``department_id`` published as ``serial``, from the key directory's
    events (the chain stores only its hash), checked against that hash."""
    published = runtime.ledger.keys.published_key_at(department_id, serial)
    if published is None:
        raise RecipientKeyMissingError(
            f"no node log carries department {department_id}'s encryption key "
            f"{serial} (the chain holds only its hash)",
        )
    return EncryptionPublicKey.decode(published.kem_id.to_bytes(2, "big") + published.public_key)


# --- helpers -----------------------------------------------------------------------------------


def _version_fields(sealed: SealedVersion) -> dict[str, Any]:
    return {
        "dataset_id": "0x" + sealed.dataset_id.hex(),
        "version": sealed.version,
        "owner": sealed.owner,
        "content_hash": "0x" + sealed.content_hash.hex(),
        "sealed": sealed.description(),
    }


def _recipient_row(
    session: Session, runtime: Runtime, sealed: SealedVersion, department: int
) -> SealedKey:
    rows = session.exec(
        select(SealedKey)
        .where(
            SealedKey.dataset_id == "0x" + sealed.dataset_id.hex(),
            SealedKey.sealed_sha256 == "0x" + sealed.sha256.value.hex(),
            SealedKey.department_id == department,
        )
        .order_by(col(SealedKey.created_at).desc())
    ).all()
    if not rows:
        raise WrappedKeyNotFoundError(
            f"no content key of version {sealed.version} is wrapped to department "
            f"{department} yet: its owner wraps it on approval (a custodial owner) or in its "
            "own client",
        )
    try:
        _, key_hash = recipient_key(runtime, department)
    except RecipientKeyMissingError:
        return rows[0]
    current = "0x" + key_hash.hex()
    return next((row for row in rows if row.fingerprint == current), rows[0])


def _owner_keys(
    session: Session, dataset_id: bytes, owner: int, sealed_hex: str | None = None
) -> list[SealedKey]:
    query = select(SealedKey).where(
        SealedKey.dataset_id == "0x" + dataset_id.hex(), SealedKey.department_id == owner
    )
    if sealed_hex is not None:
        query = query.where(SealedKey.sealed_sha256 == sealed_hex)
    return list(session.exec(query).all())


def _decoded(data: bytes) -> WrappedKey:
    try:
        return WrappedKey.decode(bytes(data))
    except WrappedKeyError as exc:
        raise InvalidInputError(f"wrapped_key: {exc}") from exc


def _check_recipient(wrapped: WrappedKey, key_hash: bytes, department_id: int) -> None:
    if wrapped.recipient_fingerprint.value != key_hash:
        raise WrappedKeyRecipientError(
            f"the content key is wrapped to key {wrapped.recipient_fingerprint}, not "
            f"to department {department_id}'s key in force on chain 0x{key_hash.hex()}",
        )


def _opened(
    wrapped: WrappedKey, own: EncryptionKeyPair, context: KeyBinding, header: Header
) -> bytes:
    """The content key, checked to open these sealed bytes (their header commits to it)."""
    content_key = unwrap_content_key(wrapped, own, context)
    header.file_key(content_key)  # SealKeyError if it is another stream's key
    return content_key


def _keep(
    session: Session,
    dataset_id: bytes,
    sealed: Digest,
    department_id: int,
    wrapped: WrappedKey,
    *,
    wrapped_by: int,
) -> None:
    key = (
        "0x" + dataset_id.hex(),
        "0x" + sealed.value.hex(),
        department_id,
        "0x" + wrapped.recipient_fingerprint.value.hex(),
    )
    row = session.get(SealedKey, key)
    if row is None:
        row = SealedKey(
            dataset_id=key[0], sealed_sha256=key[1], department_id=key[2], fingerprint=key[3],
            wrapped_key="", wrapped_by=wrapped_by,
        )  # fmt: skip
    row.wrapped_key = "0x" + wrapped.encode().hex()
    row.wrapped_by = wrapped_by
    session.add(row)
