"""What every blob store shares: the protocol, a stored blob's value, names, hashing copies."""

from __future__ import annotations

import contextlib
import hashlib
import mmap
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from ledger.errors import BlobTooLargeError, InvalidInputError
from ledger.hashing import Digest

__all__ = ["BlobStore", "StoredBlob", "blob_name", "copy_hashing", "read_into"]

#: Bytes read and hashed at a time while a blob streams in.
CHUNK = 1 << 20


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

    def verify(self, digest: Digest) -> bool: ...


def blob_name(digest: Digest) -> str:
    """The blob's name in any store: ``sha256/<2 hex>/<2 hex>/<64 hex>``, two levels of 256
    folders (or key prefixes) so that no listing grows past a few thousand entries."""
    name = hex_of(digest)
    return f"sha256/{name[:2]}/{name[2:4]}/{name}"


def hex_of(digest: Digest) -> str:
    if not isinstance(digest, Digest):
        raise InvalidInputError(f"a blob is named by a SHA-256 Digest, got {digest!r}")
    return digest.value.hex()


def check_bound(max_size: int | None) -> None:
    if max_size is not None and max_size < 0:
        raise InvalidInputError(f"max_size must not be negative, got {max_size}")


def check_offset(offset: int) -> None:
    if offset < 0:
        raise InvalidInputError(f"offset must not be negative, got {offset}")


def copy_hashing(source: BinaryIO, output: BinaryIO, max_size: int | None) -> tuple[Digest, int]:
    """Copy ``source`` to its end into ``output``; the SHA-256 and size of what was copied.
    One page-aligned buffer for the whole copy (see :func:`ledger.hashing.sha256_stream`)."""
    hasher = hashlib.sha256()
    size = 0
    buffer = mmap.mmap(-1, CHUNK)
    view = memoryview(buffer)
    try:
        while read := read_into(source, view):
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


def read_into(stream: BinaryIO, view: memoryview) -> int:
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
