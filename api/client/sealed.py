"""Sealed exchange in the department's client: seal before anything leaves, open after
everything is checked.

Sealing (``docs/sealed-format.md``) happens here, never in the service: a fresh content key per
version, the sealed bytes uploaded to the blob store, the content key wrapped to the
department's own encryption key in force (as the service reports it; the service checks the
wrap against the key directory on chain before it registers anything). Fetching downloads the
sealed bytes and opens them as they arrive, in one pass: each chunk is authenticated
(AES-256-GCM, its index and finality bound in, the content key committed to by the header)
before its plaintext is written to a part file named by the sealed bytes' digest, and the output
appears only once every chunk has opened and the plaintext's SHA-256 is the content hash the
chain holds for the version. An interrupted fetch resumes from the first chunk it lacks.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from eth_utils.crypto import keccak

from api.client._client import ProvledgerClient
from ledger.errors import InvalidInputError, SealContentMismatchError, SealError
from ledger.hashing import Digest
from ledger.sealing import (
    EncryptionKeyPair,
    EncryptionPublicKey,
    KeyBinding,
    Layout,
    SealSummary,
    Suite,
    WrappedKey,
    open_sealed_from,
    read_header,
    seal,
    unwrap_content_key,
    wrap_content_key,
)
from ledger.sealing.layout import HEADER_SIZE

__all__ = ["FetchedFile", "SealedUpload", "fetch_sealed", "seal_and_upload"]


@dataclass(frozen=True, slots=True)
class SealedUpload:
    """A file sealed and uploaded: what its registration sends (``content_hash``, ``salt`` for
    a new dataset, ``sealed``) and what sealing measured."""

    content_hash: str
    dataset_id: str
    salt: str | None
    sealed: dict[str, Any]
    summary: SealSummary


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """A sealed version fetched and opened to ``path``."""

    path: Path
    dataset_id: str
    version: int
    content_hash: str
    size: int
    resumed_from: int
    sealed_sha256: str = ""  # the sealed bytes' SHA-256, 0x-hex: what a receipt names


def public_key_of(answer: dict[str, Any]) -> EncryptionPublicKey:
    """The encryption key in an answer of ``GET /v1/departments/{id}/encryption-key``: its
    ``public_key`` as the key directory holds it (raw), with ``kem_id``; or already encoded."""
    data = bytes.fromhex(str(answer["public_key"]).removeprefix("0x"))
    kem_id = answer.get("kem_id")
    if kem_id is not None and len(data) == Suite(int(kem_id)).public_size:
        data = int(kem_id).to_bytes(2, "big") + data
    key = EncryptionPublicKey.decode(data)
    fingerprint = answer.get("fingerprint") or answer.get("key_hash")
    if fingerprint is not None and key.fingerprint().value.hex() != str(fingerprint)[2:].lower():
        raise InvalidInputError("the service's encryption key does not match its fingerprint")
    return key


def seal_and_upload(
    client: ProvledgerClient,
    file: Path,
    *,
    dataset_id: str | None,
    work_dir: Path,
    on_progress: Callable[[int], None] | None = None,
) -> SealedUpload:
    """Seal ``file`` under a fresh content key into ``work_dir``, upload the sealed bytes and
    wrap the key to the caller's own encryption key, for a new dataset (``dataset_id`` None: a
    salt is chosen, which fixes its id) or a version of ``dataset_id``."""
    me = client.whoami()
    department = me["department_id"]
    if department is None:
        raise InvalidInputError(f"a {me['kind']} token cannot register: use a department's")
    own = public_key_of(client.encryption_key(department))
    salt = None
    if dataset_id is None:
        salt_bytes = os.urandom(32)
        salt = "0x" + salt_bytes.hex()
        dataset_id = "0x" + keccak(department.to_bytes(32, "big") + salt_bytes).hex()
    content_key = secrets.token_bytes(32)
    sealed_path = work_dir / (file.name + ".sealed")
    with file.open("rb") as reader, sealed_path.open("wb") as writer:
        summary = seal(reader, writer, content_key)
    deployment = me["deployment"]
    binding = KeyBinding(
        chain_id=int(deployment["chain_id"]),
        registry=str(deployment["dataset_registry"]),
        dataset_id=bytes.fromhex(dataset_id[2:]),
        sealed_sha256=summary.sealed_sha256,
        recipient_department=department,
    )
    wrapped = wrap_content_key(content_key, own, binding)
    sha256 = "0x" + summary.sealed_sha256.value.hex()
    client.put_blob(sealed_path, sha256, on_progress=on_progress)
    return SealedUpload(
        content_hash="0x" + summary.plaintext_sha256.value.hex(),
        dataset_id=dataset_id,
        salt=salt,
        sealed={
            "sha256": sha256,
            "size": summary.sealed_size,
            "wrapped_key": "0x" + wrapped.encode().hex(),
        },
        summary=summary,
    )


def fetch_sealed(
    client: ProvledgerClient,
    dataset_id: str,
    version: int | None,
    output: Path,
    *,
    key_pair: EncryptionKeyPair | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> FetchedFile:
    """Fetch version ``version`` (the latest if None) of a sealed dataset and open it to
    ``output``. The content key comes unwrapped from the service (a custodial department) or,
    with ``key_pair``, wrapped, and is unwrapped here for the binding it must carry.

    Raises :class:`~ledger.errors.SealTamperedError` (the bytes received are not the ones the
    version commits to; the part file is deleted), the other
    :class:`~ledger.errors.SealError`\\ s of opening, or the service's refusal."""
    if version is None:
        version = int(client.get_dataset(dataset_id)["version_count"])
    if key_pair is None:
        answer = client.content_key(dataset_id, version)
        content_key = bytes.fromhex(answer["content_key"][2:])
    else:
        answer = client.sealed_key(dataset_id, version)
        content_key = _unwrapped(answer, key_pair, dataset_id)
    sealed = answer["sealed"]
    expected = Digest(bytes.fromhex(sealed["sha256"][2:]))
    size = int(sealed["size"])
    content_hash = str(answer["content_hash"])
    with client.sealed_reader(dataset_id, version, end=HEADER_SIZE - 1) as head:
        header = read_header(head)  # type: ignore[arg-type]
    # The part file holds authenticated plaintext only, a whole number of chunks (a chunk cut
    # off by a crash is dropped), named by the sealed bytes' digest: only the same sealed
    # version is ever resumed, from the first chunk it lacks.
    part = output.with_name(f".{output.name}.{expected.value.hex()[:16]}.part")
    first_chunk = (part.stat().st_size if part.exists() else 0) // header.chunk_size
    kept = first_chunk * header.chunk_size
    start = Layout(header.chunk_size).chunk_offset(first_chunk)
    hasher = hashlib.sha256()
    with part.open("r+b" if part.exists() else "wb") as writer:
        writer.truncate(kept)
        while kept and (piece := writer.read(1 << 20)):
            hasher.update(piece)
        writer.seek(kept)
        try:
            # Fresh, the opener's own hash of the plaintext is the whole file's; resumed, the
            # kept chunks are hashed first and the rest as they are written.
            sink: Any = _Hashing(writer, hasher) if kept else writer
            summary = None
            if start < size:
                with client.sealed_reader(dataset_id, version, start=start) as reader:
                    stream: Any = reader  # a binary stream as far as the opener reads it
                    summary = open_sealed_from(
                        header, stream, sink, content_key, first_chunk=first_chunk
                    )
            if kept or summary is None:
                plaintext = Digest(hasher.digest())
            else:
                plaintext = summary.plaintext_sha256
            if plaintext != Digest(bytes.fromhex(content_hash[2:])):
                raise SealContentMismatchError(
                    f"the opened plaintext hashes to {plaintext}, not to the content hash on "
                    f"chain {content_hash}: nothing was written"
                )
            writer.flush()
            os.fsync(writer.fileno())
        except SealError:
            writer.close()
            part.unlink()  # what was kept is not to be trusted any more
            raise
    size_written = part.stat().st_size
    os.replace(part, output)
    return FetchedFile(
        path=output,
        dataset_id=dataset_id,
        version=version,
        content_hash=content_hash,
        size=size_written,
        resumed_from=kept,
        sealed_sha256="0x" + expected.value.hex(),
    )


class _Hashing:
    """A writer that hashes what it writes."""

    def __init__(self, writer: BinaryIO, hasher: Any) -> None:
        self._writer = writer
        self._hasher = hasher

    def write(self, data: bytes) -> int:
        self._hasher.update(data)
        return self._writer.write(data)


def _unwrapped(answer: dict[str, Any], key_pair: EncryptionKeyPair, dataset_id: str) -> bytes:
    """The content key in ``answer``'s wrapped key, for the binding this client expects: the
    dataset it asked for and the sealed bytes it will check, for its own department."""
    bound = answer["binding"]
    if str(bound["dataset_id"]).lower() != dataset_id.lower():
        raise InvalidInputError("the wrapped key is bound to another dataset than the one asked")
    binding = KeyBinding(
        chain_id=int(bound["chain_id"]),
        registry=str(bound["registry"]),
        dataset_id=bytes.fromhex(dataset_id[2:]),
        sealed_sha256=Digest(bytes.fromhex(answer["sealed"]["sha256"][2:])),
        recipient_department=int(answer["recipient_department"]),
    )
    wrapped = WrappedKey.decode(bytes.fromhex(answer["wrapped_key"][2:]))
    return unwrap_content_key(wrapped, key_pair, binding)
