"""Specification of ledger.sealing.stream: sealed streams open to their plaintext, whole, or fail
with an error that names what happened to them."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import (
    InvalidInputError,
    SealContentMismatchError,
    SealError,
    SealFormatError,
    SealKeyError,
    SealReorderedError,
    SealTamperedError,
    SealTrailingDataError,
    SealTruncatedError,
    SealVersionError,
)
from ledger.hashing import sha256_bytes
from ledger.sealing.layout import CHUNK_HEADER_SIZE, HEADER_SIZE, MAX_CHUNK_SIZE, Layout
from ledger.sealing.stream import (
    open_sealed,
    open_sealed_from,
    open_to_path,
    read_header,
    seal,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SMALL = 16  # a chunk size that makes multi-chunk streams out of a few bytes


def sealed(plaintext: bytes, *, chunk_size: int = SMALL, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    seal(io.BytesIO(plaintext), out, key, chunk_size=chunk_size)
    return out.getvalue()


def opened(stream: bytes, *, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    open_sealed(io.BytesIO(stream), out, key)
    return out.getvalue()


def frames(stream: bytes, chunk_size: int = SMALL) -> list[bytes]:
    """The chunks of a stream whose chunks but the last are full."""
    size = Layout(chunk_size).frame_size
    body = stream[HEADER_SIZE:]
    return [body[i : i + size] for i in range(0, len(body), size)]


def rebuilt(stream: bytes, chunks: list[bytes]) -> bytes:
    return stream[:HEADER_SIZE] + b"".join(chunks)


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL + 1, 3 * SMALL, 1000])
def test_a_sealed_stream_opens_to_its_plaintext(size: int) -> None:
    plaintext = os.urandom(size)
    assert opened(sealed(plaintext)) == plaintext


def test_the_summaries_give_sizes_and_digests_of_both_sides() -> None:
    plaintext = os.urandom(3 * SMALL + 5)
    out = io.BytesIO()

    summary = seal(io.BytesIO(plaintext), out, KEY, chunk_size=SMALL)

    stream = out.getvalue()
    assert summary.plaintext_size == len(plaintext)
    assert summary.plaintext_sha256 == sha256_bytes(plaintext)
    assert summary.sealed_size == len(stream) == Layout(SMALL).sealed_size(len(plaintext))
    assert summary.sealed_sha256 == sha256_bytes(stream)
    assert (summary.chunk_size, summary.chunks) == (SMALL, 4)
    opening = open_sealed(io.BytesIO(stream), io.BytesIO(), KEY)
    assert (opening.plaintext_size, opening.chunks) == (len(plaintext), 4)
    assert opening.plaintext_sha256 == sha256_bytes(plaintext)


def test_an_empty_plaintext_is_one_final_empty_chunk() -> None:
    stream = sealed(b"")

    assert len(stream) == HEADER_SIZE + CHUNK_HEADER_SIZE + 16
    assert opened(stream) == b""


def test_a_plaintext_of_whole_chunks_ends_with_a_full_final_chunk() -> None:
    # As in age: no empty chunk after it, so the sizes are exactly computable.
    assert len(frames(sealed(bytes(2 * SMALL)))) == 2


def test_sealing_the_same_plaintext_twice_gives_unrelated_streams() -> None:
    # A fresh salt per stream: one content key may seal several files safely.
    first, second = sealed(b"same bytes"), sealed(b"same bytes")
    assert first[HEADER_SIZE:] != second[HEADER_SIZE:]


def test_streams_that_read_and_write_a_few_bytes_at_a_time_work() -> None:
    class Trickle(io.RawIOBase):
        """A pipe-like raw stream: reads and writes at most 3 bytes per call."""

        def __init__(self, data: bytes = b"") -> None:
            self.data, self.written = data, bytearray()

        def readable(self) -> bool:
            return True

        def writable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            count = min(3, len(buffer), len(self.data))
            buffer[:count], self.data = self.data[:count], self.data[count:]
            return count

        def write(self, data: memoryview) -> int:  # type: ignore[override]
            self.written += bytes(data[:3])
            return min(3, len(data))

    plaintext = os.urandom(100)
    sink = Trickle()
    seal(Trickle(plaintext), sink, KEY, chunk_size=SMALL)  # type: ignore[arg-type]
    back = Trickle()
    open_sealed(Trickle(bytes(sink.written)), back, KEY)  # type: ignore[arg-type]
    assert bytes(back.written) == plaintext


@settings(max_examples=60, deadline=None)
@given(plaintext=st.binary(max_size=300), chunk_size=st.integers(1, 64))
def test_any_plaintext_at_any_chunk_size_round_trips(plaintext: bytes, chunk_size: int) -> None:
    stream = sealed(plaintext, chunk_size=chunk_size)
    assert len(stream) == Layout(chunk_size).sealed_size(len(plaintext))
    assert opened(stream) == plaintext


# --- what goes wrong, by name ------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    plaintext=st.binary(max_size=80),
    chunk_size=st.integers(1, 32),
    where=st.floats(0, 1, exclude_max=True),
    flip=st.integers(1, 255),
)
def test_any_single_byte_flip_anywhere_fails_with_a_seal_error(
    plaintext: bytes, chunk_size: int, where: float, flip: int
) -> None:
    stream = bytearray(sealed(plaintext, chunk_size=chunk_size))
    stream[int(where * len(stream))] ^= flip

    with pytest.raises(SealError):
        opened(bytes(stream))


@settings(max_examples=60, deadline=None)
@given(plaintext=st.binary(max_size=80), cut=st.floats(0, 1, exclude_max=True))
def test_any_proper_prefix_is_reported_truncated(plaintext: bytes, cut: float) -> None:
    stream = sealed(plaintext)
    prefix = stream[: max(1, int(cut * len(stream)))]

    with pytest.raises(SealTruncatedError):
        opened(prefix)


def test_an_altered_chunk_is_tampered_not_reordered() -> None:
    stream = bytearray(sealed(bytes(3 * SMALL)))
    stream[HEADER_SIZE + Layout(SMALL).frame_size + CHUNK_HEADER_SIZE + 2] ^= 1

    with pytest.raises(SealTamperedError) as raised:
        opened(bytes(stream))
    assert type(raised.value) is SealTamperedError
    assert raised.value.code == "seal-tampered"
    assert "chunk 1" in str(raised.value)


def test_swapped_chunks_are_reported_reordered() -> None:
    stream = sealed(os.urandom(3 * SMALL + 1))
    chunks = frames(stream)
    chunks[0], chunks[1] = chunks[1], chunks[0]

    with pytest.raises(SealReorderedError, match="expected chunk 0, found chunk 1"):
        opened(rebuilt(stream, chunks))


def test_a_dropped_middle_chunk_is_reported_reordered() -> None:
    stream = sealed(os.urandom(3 * SMALL + 1))
    chunks = frames(stream)
    del chunks[1]

    with pytest.raises(SealReorderedError, match="expected chunk 1, found chunk 2"):
        opened(rebuilt(stream, chunks))


def test_a_duplicated_chunk_is_reported_reordered() -> None:
    stream = sealed(os.urandom(3 * SMALL + 1))
    chunks = frames(stream)
    chunks.insert(1, chunks[0])

    with pytest.raises(SealReorderedError):
        opened(rebuilt(stream, chunks))


def test_a_chunk_whose_index_was_rewritten_to_fit_is_tampered() -> None:
    stream = sealed(os.urandom(3 * SMALL + 1))
    chunks = frames(stream)
    moved = bytearray(chunks[1])
    moved[:4] = (0).to_bytes(4, "big")  # claims to be chunk 0, but was sealed as chunk 1

    with pytest.raises(SealTamperedError) as raised:
        opened(rebuilt(stream, [bytes(moved), *chunks[2:]]))
    assert type(raised.value) is SealTamperedError


def test_a_chunk_from_another_stream_under_the_same_key_is_tampered() -> None:
    # Same key, same index, same position: only the header (salt) differs, and it is bound.
    ours, theirs = sealed(bytes(3 * SMALL)), sealed(bytes(3 * SMALL))
    chunks = frames(ours)
    chunks[1] = frames(theirs)[1]

    with pytest.raises(SealTamperedError):
        opened(rebuilt(ours, chunks))


def test_a_missing_final_chunk_is_reported_truncated() -> None:
    stream = sealed(os.urandom(3 * SMALL + 1))
    chunks = frames(stream)

    with pytest.raises(SealTruncatedError, match="before its final chunk"):
        opened(rebuilt(stream, chunks[:-1]))


def test_a_non_final_chunk_cannot_pass_as_final() -> None:
    stream = sealed(os.urandom(3 * SMALL + 1))
    chunks = frames(stream)
    forged = bytearray(chunks[1])
    forged[4] = 1  # the final flag: would make a truncation at chunk 1 look complete

    with pytest.raises(SealTamperedError):
        opened(rebuilt(stream, [chunks[0], bytes(forged)]))


def test_bytes_after_the_final_chunk_are_an_error() -> None:
    with pytest.raises(SealTrailingDataError) as raised:
        opened(sealed(b"payload") + b"\x00")
    assert isinstance(raised.value, SealTamperedError)


def test_a_wrong_key_is_reported_before_any_chunk() -> None:
    with pytest.raises(SealKeyError):
        opened(sealed(b"payload"), key=OTHER_KEY)


def test_an_altered_salt_is_reported_as_the_key_not_opening_it() -> None:
    stream = bytearray(sealed(b"payload"))
    stream[20] ^= 1  # inside the salt

    with pytest.raises(SealKeyError):
        opened(bytes(stream))


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 a zip file", b"\x89PNG\r\n\x1a\n" + bytes(80)])
def test_other_bytes_are_not_a_sealed_stream(data: bytes) -> None:
    with pytest.raises(SealFormatError) as raised:
        opened(data)
    assert type(raised.value) is SealFormatError


def test_an_unknown_version_is_named() -> None:
    stream = bytearray(sealed(b"payload"))
    stream[8] = 2

    with pytest.raises(SealVersionError, match="version 2"):
        opened(bytes(stream))


def test_a_header_declaring_huge_chunks_is_refused_before_allocating() -> None:
    stream = bytearray(sealed(b"payload"))
    stream[9:13] = (MAX_CHUNK_SIZE + 1).to_bytes(4, "big")

    with pytest.raises(SealFormatError, match="chunks of"):
        opened(bytes(stream))


@pytest.mark.parametrize("chunk_size", [0, MAX_CHUNK_SIZE + 1])
def test_sealing_refuses_chunk_sizes_outside_the_format(chunk_size: int) -> None:
    with pytest.raises(InvalidInputError):
        seal(io.BytesIO(b""), io.BytesIO(), KEY, chunk_size=chunk_size)


def test_a_content_key_is_32_bytes() -> None:
    with pytest.raises(InvalidInputError):
        seal(io.BytesIO(b""), io.BytesIO(), bytes(16))


# --- opening into a file -----------------------------------------------------------------------


def test_open_to_path_publishes_the_plaintext_once_it_is_whole_and_expected(tmp_path: Path) -> None:
    plaintext = os.urandom(5 * SMALL)
    target = tmp_path / "dataset.csv"

    summary = open_to_path(
        io.BytesIO(sealed(plaintext)), target, KEY, expected_sha256=sha256_bytes(plaintext)
    )

    assert target.read_bytes() == plaintext
    assert summary.plaintext_sha256 == sha256_bytes(plaintext)
    assert os.listdir(tmp_path) == ["dataset.csv"]


def test_open_to_path_refuses_authentic_but_unexpected_content(tmp_path: Path) -> None:
    target = tmp_path / "dataset.csv"
    expected = sha256_bytes(b"what the chain says")

    with pytest.raises(SealContentMismatchError) as raised:
        open_to_path(io.BytesIO(sealed(b"something else")), target, KEY, expected_sha256=expected)

    assert str(expected) in str(raised.value)
    assert os.listdir(tmp_path) == []


def test_open_to_path_leaves_nothing_behind_when_a_late_chunk_fails(tmp_path: Path) -> None:
    plaintext = os.urandom(5 * SMALL)
    stream = bytearray(sealed(plaintext))
    stream[-1] ^= 1  # the final chunk's tag: every earlier chunk opened and was written
    target = tmp_path / "dataset.csv"
    target.write_bytes(b"the previous version")

    with pytest.raises(SealTamperedError):
        open_to_path(io.BytesIO(stream), target, KEY, expected_sha256=sha256_bytes(plaintext))

    assert target.read_bytes() == b"the previous version"
    assert os.listdir(tmp_path) == ["dataset.csv"]


# --- resuming ----------------------------------------------------------------------------------


def test_opening_resumes_at_a_chunk_from_its_computed_offset() -> None:
    plaintext = os.urandom(5 * SMALL + 3)
    stream = io.BytesIO(sealed(plaintext))
    header = read_header(stream)
    layout = Layout(header.chunk_size)

    stream.seek(layout.chunk_offset(2))
    rest = io.BytesIO()
    summary = open_sealed_from(header, stream, rest, KEY, first_chunk=2)

    assert rest.getvalue() == plaintext[layout.plaintext_offset(2) :]
    assert (summary.first_chunk, summary.chunks) == (2, 4)
    assert summary.plaintext_sha256.value == hashlib.sha256(plaintext[2 * SMALL :]).digest()


def test_resuming_at_the_wrong_offset_is_reported_reordered() -> None:
    stream = io.BytesIO(sealed(os.urandom(5 * SMALL)))
    header = read_header(stream)

    stream.seek(Layout(SMALL).chunk_offset(3))
    with pytest.raises(SealReorderedError, match="expected chunk 2, found chunk 3"):
        open_sealed_from(header, stream, io.BytesIO(), KEY, first_chunk=2)
