"""Blobs as files in a directory (the data directory by default): ``<root>/sha256/<2 hex>/<2
hex>/<64 hex>``, each published whole or not at all (:mod:`ledger.files`)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from ledger.blobs.base import StoredBlob, blob_name, check_bound, check_offset, copy_hashing
from ledger.errors import BlobDigestMismatchError, BlobNotFoundError, InvalidInputError
from ledger.files import fsync_directory
from ledger.hashing import Digest, sha256_stream

__all__ = ["DirectoryBlobStore"]


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
        return self._root / blob_name(digest)

    def put(
        self, stream: BinaryIO, *, expected: Digest | None = None, max_size: int | None = None
    ) -> StoredBlob:
        """Store the bytes of ``stream`` (to its end); their digest and size.

        Raises :class:`~ledger.errors.BlobDigestMismatchError` if ``expected`` is given and the
        bytes hash to another digest, and :class:`~ledger.errors.BlobTooLargeError` as soon as
        more than ``max_size`` bytes arrive; in both cases nothing is stored.
        """
        check_bound(max_size)
        # Staged where a blob with that name would go, or, unannounced, at the store's root:
        # on the same file system either way, so publishing is a link, not a copy.
        staging = self.path(expected).parent if expected is not None else self._root
        staging.mkdir(parents=True, exist_ok=True)
        # mkstemp: a name no other upload has, mode 0o600 before any byte is written.
        fd, staged = tempfile.mkstemp(dir=staging, prefix=".incoming-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as output:
                digest, size = copy_hashing(stream, output, max_size)
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
        check_offset(offset)
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
