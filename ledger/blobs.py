"""Sealed datasets' bytes, stored by content: each blob is named by the SHA-256 of its bytes.

A blob is written whole or not at all (:func:`ledger.files.publish_atomically`: a temporary
file beside its final name, synced, then linked in) and never changed afterwards: its name is
its digest, so storing the same bytes twice stores them once, and a reader can check what it
got against the name it asked for. The digest is computed while the bytes stream in, and a
blob whose bytes do not hash to the digest the caller announced is refused before it gets a
name (an upload cut short, or altered on the way).

The store holds sealed bytes only (``docs/sealed-format.md``): whoever reads a blob learns
nothing without a content key, so the store needs no access control of its own; the service
decides who may download (the contract's ``hasAccess``), and the wrapped key decides who can
read.

:class:`DirectoryBlobStore` keeps blobs in a directory (the data directory by default):
``<root>/sha256/<2 hex>/<2 hex>/<64 hex>``, two levels of 256 directories so that no directory
grows past a few thousand entries at millions of blobs.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ledger.errors import (
    BlobDigestMismatchError,
    BlobNotFoundError,
    BlobTooLargeError,
    InvalidInputError,
)
from ledger.files import fsync_directory
from ledger.hashing import Digest, sha256_stream

__all__ = ["BlobStore", "DirectoryBlobStore", "StoredBlob"]

#: Bytes read and hashed at a time while a blob streams in.
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A blob in the store: its digest (its name) and size; ``created`` is False when the same
    bytes were stored before."""

    digest: Digest
    size: int
    created: bool


class BlobStore(Protocol):
    """Where sealed bytes live, by digest."""

    def put(
        self, stream: BinaryIO, *, expected: Digest | None = None, max_size: int | None = None
    ) -> StoredBlob: ...

    def open(self, digest: Digest, *, offset: int = 0) -> BinaryIO: ...

    def size(self, digest: Digest) -> int: ...

    def exists(self, digest: Digest) -> bool: ...


class DirectoryBlobStore:
    """Blobs as files under ``root`` (created on first use)."""

    __slots__ = ("_root",)

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)

    @property
    def root(self) -> Path:
        return self._root

    def path(self, digest: Digest) -> Path:
        """Where the blob named ``digest`` is (or would be) kept."""
        name = _hex(digest)
        return self._root / "sha256" / name[:2] / name[2:4] / name

    def put(
        self, stream: BinaryIO, *, expected: Digest | None = None, max_size: int | None = None
    ) -> StoredBlob:
        """Store the bytes of ``stream`` (to its end); their digest and size.

        Raises :class:`~ledger.errors.BlobDigestMismatchError` if ``expected`` is given and the
        bytes hash to another digest, and :class:`~ledger.errors.BlobTooLargeError` as soon as
        more than ``max_size`` bytes arrive; in both cases nothing is stored.
        """
        if max_size is not None and max_size < 0:
            raise InvalidInputError(f"max_size must not be negative, got {max_size}")
        # Staged where a blob with that name would go, or, unannounced, at the store's root:
        # on the same file system either way, so publishing is a link, not a copy.
        staging = self.path(expected).parent if expected is not None else self._root
        staging.mkdir(parents=True, exist_ok=True)
        # mkstemp: a name no other upload has, mode 0o600 before any byte is written.
        fd, staged = tempfile.mkstemp(dir=staging, prefix=".incoming-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as output:
                digest, size = _copy_hashing(stream, output, max_size)
                output.flush()
                os.fsync(output.fileno())
            if expected is not None and digest != expected:
                raise BlobDigestMismatchError(
                    f"the bytes received hash to {digest}, not to {expected} as announced"
                )
            target = self.path(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                # A link fails if the name exists: then the same bytes are stored already
                # (the name is their digest) and stay as they are.
                os.link(staged, target)
            except FileExistsError:
                return StoredBlob(digest, size, created=False)
            fsync_directory(target.parent)
            return StoredBlob(digest, size, created=True)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged)

    def open(self, digest: Digest, *, offset: int = 0) -> BinaryIO:
        """The blob's bytes from ``offset`` (to resume a download), as a binary file."""
        if offset < 0:
            raise InvalidInputError(f"offset must not be negative, got {offset}")
        try:
            stream = self.path(digest).open("rb")
        except FileNotFoundError:
            raise BlobNotFoundError(f"no blob {digest} in this store") from None
        size = os.fstat(stream.fileno()).st_size
        if offset > size:
            stream.close()
            raise InvalidInputError(f"offset {offset} is past the blob's end ({size} bytes)")
        stream.seek(offset)
        return stream

    def size(self, digest: Digest) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFoundError(f"no blob {digest} in this store") from None

    def exists(self, digest: Digest) -> bool:
        return self.path(digest).is_file()

    def verify(self, digest: Digest) -> bool:
        """Whether the stored bytes still hash to their name (a disk or an operator may have
        changed them; readers check what they download anyway)."""
        with self.open(digest) as stream:
            return sha256_stream(stream) == digest


def _hex(digest: Digest) -> str:
    if not isinstance(digest, Digest):
        raise InvalidInputError(f"a blob is named by a SHA-256 Digest, got {digest!r}")
    return digest.value.hex()


def _copy_hashing(source: BinaryIO, output: BinaryIO, max_size: int | None) -> tuple[Digest, int]:
    """Copy ``source`` to its end into ``output``; the SHA-256 and size of what was copied.
    One page-aligned buffer for the whole copy (see :func:`ledger.hashing.sha256_stream`)."""
    hasher = hashlib.sha256()
    size = 0
    buffer = mmap.mmap(-1, _CHUNK)
    view = memoryview(buffer)
    try:
        while read := _read_into(source, view):
            size += read
            if max_size is not None and size > max_size:
                raise BlobTooLargeError(f"a blob may hold at most {max_size} bytes")
            with view[:read] as chunk:
                hasher.update(chunk)
                output.write(chunk)
    finally:
        view.release()
        with contextlib.suppress(BufferError):
            buffer.close()
    return Digest(hasher.digest()), size


def _read_into(stream: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``stream`` as far as one read goes; 0 at the end."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        read = readinto(view)
        if read is None:
            raise InvalidInputError("stream is non-blocking and has no data ready")
        return int(read)
    chunk = stream.read(len(view))
    view[: len(chunk)] = chunk
    return len(chunk)
