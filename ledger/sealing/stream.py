"""Sealing and opening streams of any length in constant memory (format: ``docs/sealed-format.md``).

:func:`seal` encrypts a plaintext stream chunk by chunk and hashes the plaintext and the sealed
bytes in the same pass; :func:`open_sealed` authenticates and decrypts chunk by chunk, hashing
the plaintext as it goes. Memory is a few chunk buffers whatever the stream's length.

An opener writes each chunk's plaintext once that chunk has authenticated, but the *stream*
is only whole and authentic when :func:`open_sealed` returns: a later chunk may fail, or the
stream may stop before its final chunk. Whatever was written before an error is to be thrown
away. :func:`open_to_path` does this for files: it decrypts into a temporary file beside the
target and renames it into place only once the whole stream opened and its plaintext hash is
the one expected.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import (
    InvalidInputError,
    SealContentMismatchError,
    SealReorderedError,
    SealTamperedError,
    SealTrailingDataError,
    SealTruncatedError,
)
from ledger.files import publish_atomically
from ledger.hashing import Digest
from ledger.sealing.layout import (
    CHUNK_HEADER_SIZE,
    DEFAULT_CHUNK_SIZE,
    HEADER_SIZE,
    MAX_CHUNK_SIZE,
    MAX_CHUNKS,
    SALT_SIZE,
    TAG_SIZE,
    Header,
    chunk_header,
    chunk_nonce,
    parse_chunk_header,
)

__all__ = [
    "OpenSummary",
    "SealSummary",
    "open_sealed",
    "open_sealed_from",
    "open_to_path",
    "read_header",
    "seal",
]


@dataclass(frozen=True, slots=True)
class SealSummary:
    """What :func:`seal` wrote: sizes and digests, the plaintext's for the chain and the sealed
    bytes' for the content-addressed blob store."""

    plaintext_size: int
    plaintext_sha256: Digest
    sealed_size: int
    sealed_sha256: Digest
    chunk_size: int
    chunks: int


@dataclass(frozen=True, slots=True)
class OpenSummary:
    """What an opener wrote: the plaintext from chunk ``first_chunk`` (0 unless resumed) to the
    end, its size and SHA-256."""

    plaintext_size: int
    plaintext_sha256: Digest
    chunks: int
    first_chunk: int = 0


def seal(
    reader: BinaryIO,
    writer: BinaryIO,
    content_key: bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    fixed_salt_for_tests: bytes | None = None,
) -> SealSummary:
    """Seal *reader* (from its position to its end) into *writer* under *content_key*.

    *content_key* is 32 random bytes (``secrets.token_bytes(32)``); it may seal several
    streams, each under a file key of its own. *fixed_salt_for_tests* replaces the random
    salt for known-answer tests only: two streams sealed with the same key and salt share a
    key and nonces, which breaks AES-GCM.
    """
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise InvalidInputError(f"chunk_size must be 1 to {MAX_CHUNK_SIZE}, got {chunk_size}")
    salt = secrets.token_bytes(SALT_SIZE) if fixed_salt_for_tests is None else fixed_salt_for_tests
    header, file_key = Header.build(bytes(content_key), bytes(salt), chunk_size)
    aead = AESGCM(file_key)
    plain_hash, sealed_hash = hashlib.sha256(), hashlib.sha256()
    _write_all(writer, header.raw)
    sealed_hash.update(header.raw)
    fill = _filler(reader)
    # Two plaintext buffers: the next chunk is read before this one is sealed, because only
    # then is it known whether this one is final (the last chunk may be full, as in age).
    current, ahead = _buffer(chunk_size), _buffer(chunk_size)
    # Two frame buffers: the sealed bytes' SHA-256 runs on a worker thread (hashlib releases
    # the GIL) over one frame while the next is encrypted into the other; a buffer is reused
    # only once its hash is done. Updates run in order on the one worker.
    frames = [_buffer(CHUNK_HEADER_SIZE + chunk_size + TAG_SIZE) for _ in range(2)]
    hashing: list[Future[None] | None] = [None, None]
    length = fill(current)
    index, total = 0, 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal-hash") as worker:
        while True:
            following = fill(ahead) if length == chunk_size else 0
            final = following == 0
            if index >= MAX_CHUNKS:
                raise InvalidInputError(
                    f"the plaintext needs more than {MAX_CHUNKS} chunks of {chunk_size} bytes: "
                    "seal it with larger chunks"
                )
            slot = index % 2
            if (pending := hashing[slot]) is not None:
                pending.result()
            frame = frames[slot]
            clear = chunk_header(index, final, length)
            end = CHUNK_HEADER_SIZE + length + TAG_SIZE
            frame[:CHUNK_HEADER_SIZE] = clear
            plaintext = current[:length]
            aead.encrypt_into(
                chunk_nonce(index, final),
                plaintext,
                header.raw + clear,
                frame[CHUNK_HEADER_SIZE:end],
            )
            hashing[slot] = worker.submit(sealed_hash.update, frame[:end])
            plain_hash.update(plaintext)
            _write_all(writer, frame[:end])
            total += length
            index += 1
            if final:
                break
            current, ahead, length = ahead, current, following
        for pending in hashing:
            if pending is not None:
                pending.result()
    return SealSummary(
        plaintext_size=total,
        plaintext_sha256=Digest(plain_hash.digest()),
        sealed_size=HEADER_SIZE + index * (CHUNK_HEADER_SIZE + TAG_SIZE) + total,
        sealed_sha256=Digest(sealed_hash.digest()),
        chunk_size=chunk_size,
        chunks=index,
    )


def open_sealed(reader: BinaryIO, writer: BinaryIO, content_key: bytes) -> OpenSummary:
    """Authenticate and decrypt the sealed stream *reader* into *writer*.

    Each chunk is written once it has authenticated; the stream is whole only if this returns.
    On any :class:`~ledger.errors.SealError` discard what *writer* received (or use
    :func:`open_to_path`, which does).

    Raises :class:`~ledger.errors.SealFormatError` (not a sealed stream, unknown version),
    :class:`~ledger.errors.SealKeyError` (wrong key), :class:`~ledger.errors.SealTamperedError`
    (an altered chunk; :class:`~ledger.errors.SealReorderedError` for an authentic chunk out of
    place, :class:`~ledger.errors.SealTrailingDataError` for bytes after the final chunk) or
    :class:`~ledger.errors.SealTruncatedError` (the stream stops early).
    """
    header = read_header(reader)
    return _open_chunks(reader, writer, header, header.file_key(bytes(content_key)), 0)


def open_sealed_from(
    header: Header, reader: BinaryIO, writer: BinaryIO, content_key: bytes, *, first_chunk: int
) -> OpenSummary:
    """Resume opening a stream at chunk *first_chunk*, *reader* being positioned at that
    chunk's offset (``Layout(header.chunk_size).chunk_offset(first_chunk)``).

    *header* is the stream's header as :func:`read_header` parsed it (keep its 77 bytes from
    the first attempt). The summary's digest covers the plaintext from *first_chunk* on only:
    to check the whole plaintext against the chain, hash the finished file.
    """
    if first_chunk < 0 or first_chunk >= MAX_CHUNKS:
        raise InvalidInputError(f"first_chunk must be 0 to {MAX_CHUNKS - 1}, got {first_chunk}")
    file_key = header.file_key(bytes(content_key))
    return _open_chunks(reader, writer, header, file_key, first_chunk)


def open_to_path(
    reader: BinaryIO,
    path: str | os.PathLike[str],
    content_key: bytes,
    *,
    expected_sha256: Digest,
) -> OpenSummary:
    """Open the sealed stream *reader* into the file *path*, which appears (replacing any file
    of that name) only if the whole stream opened and its plaintext's SHA-256 is
    *expected_sha256*, the digest the chain holds for the dataset version.

    The plaintext goes to a temporary file in *path*'s directory, removed on any failure.
    Raises what :func:`open_sealed` raises, and
    :class:`~ledger.errors.SealContentMismatchError` if the plaintext is authentic but not the
    expected content.
    """
    target = Path(path)
    with publish_atomically(target) as temporary:
        summary = open_sealed(reader, temporary, content_key)
        if summary.plaintext_sha256 != expected_sha256:
            raise SealContentMismatchError(
                f"the opened plaintext is not the expected content: expected "
                f"{expected_sha256}, got {summary.plaintext_sha256}"
            )
    return summary


def read_header(reader: BinaryIO) -> Header:
    """Read and parse a stream's header, leaving *reader* at its first chunk."""
    raw = _buffer(HEADER_SIZE)
    count = _filler(reader)(raw)
    return Header.parse(bytes(raw[:count]))


def _open_chunks(
    reader: BinaryIO, writer: BinaryIO, header: Header, file_key: bytes, first: int
) -> OpenSummary:
    aead = AESGCM(file_key)
    chunk_size = header.chunk_size
    fill = _filler(reader)
    frame = _buffer(CHUNK_HEADER_SIZE + chunk_size + TAG_SIZE)
    plaintext = _buffer(chunk_size)
    plain_hash = hashlib.sha256()
    index, total = first, 0
    while True:
        clear = frame[:CHUNK_HEADER_SIZE]
        got = fill(clear)
        if got < CHUNK_HEADER_SIZE:
            where = "before its final chunk" if got == 0 else f"inside chunk {index}"
            raise SealTruncatedError(f"the stream ends {where}")
        claimed, flag, length = parse_chunk_header(clear)
        if flag > 1 or length > chunk_size or (flag == 0 and length != chunk_size):
            # Checked before reading on: a hostile length must not decide how much is read.
            raise SealTamperedError(f"chunk {index} has an impossible header")
        end = CHUNK_HEADER_SIZE + length + TAG_SIZE
        body = frame[CHUNK_HEADER_SIZE:end]
        if fill(body) < len(body):
            raise SealTruncatedError(f"the stream ends inside chunk {index}")
        final = flag == 1
        aad = header.raw + bytes(clear)
        if claimed != index:
            raise _misplaced(aead, claimed, index, final, body, aad, plaintext[:length])
        try:
            aead.decrypt_into(chunk_nonce(index, final), body, aad, plaintext[:length])
        except InvalidTag:
            raise SealTamperedError(f"chunk {index} fails authentication: altered") from None
        plain_hash.update(plaintext[:length])
        _write_all(writer, plaintext[:length])
        total += length
        index += 1
        if final:
            break
    if fill(frame[:1]):
        raise SealTrailingDataError(f"bytes follow the final chunk ({index - 1})")
    return OpenSummary(
        plaintext_size=total,
        plaintext_sha256=Digest(plain_hash.digest()),
        chunks=index - first,
        first_chunk=first,
    )


def _misplaced(
    aead: AESGCM,
    claimed: int,
    position: int,
    final: bool,
    body: memoryview,
    aad: bytes,
    scratch: memoryview,
) -> SealTamperedError:
    """The error for a chunk whose index is not its position: reordered if it is an authentic
    chunk of this stream (it authenticates at its own index), tampered otherwise."""
    try:
        aead.decrypt_into(chunk_nonce(claimed, final), body, aad, scratch)
    except InvalidTag:
        return SealTamperedError(f"chunk {position} fails authentication: altered")
    return SealReorderedError(
        f"expected chunk {position}, found chunk {claimed}: chunks were reordered, dropped or "
        "duplicated"
    )


def _buffer(size: int) -> memoryview:
    """A zeroed buffer of *size* bytes. An anonymous mmap rather than a bytearray: it starts on
    a page boundary, which the kernel copies file pages into several times faster (see
    :func:`ledger.hashing.sha256_stream`)."""
    return memoryview(mmap.mmap(-1, max(size, 1)))[:size]


def _filler(reader: BinaryIO) -> Callable[[memoryview], int]:
    """A function that fills a buffer from *reader* until it is full or the stream ends, and
    returns how many bytes it read (short reads from pipes and sockets are retried)."""
    readinto = getattr(reader, "readinto", None)

    def fill(view: memoryview) -> int:
        got = 0
        while got < len(view):
            if readinto is not None:
                count = readinto(view[got:])
            else:
                piece = reader.read(len(view) - got)
                count = len(piece)
                view[got : got + count] = piece
            if not count:  # 0 at the end; None from a non-blocking stream with nothing yet
                break
            got += count
        return got

    return fill


def _write_all(writer: BinaryIO, data: bytes | memoryview) -> None:
    # Buffered writers write everything; raw ones (a socket file, FileIO) may write less.
    view = memoryview(data)
    while view:
        written = writer.write(view)
        if written is None:
            raise InvalidInputError("the writer is non-blocking; give a blocking one")
        view = view[written:]
