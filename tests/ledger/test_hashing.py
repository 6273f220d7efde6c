"""Specification of ledger.hashing: digests, streaming SHA-256 and RFC 8785 commitments."""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import io
import json
import mmap
import os
import random
import struct
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import hashing
from ledger.errors import CanonicalizationError, InvalidDigestError, InvalidInputError
from ledger.hashing import (
    DEFAULT_CHUNK_SIZE,
    Digest,
    canonical_json,
    metadata_commitment,
    sha256_bytes,
    sha256_file,
    sha256_stream,
)

# FIPS 180-2 appendix B test vectors.
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
TWO_BLOCK_MESSAGE = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
TWO_BLOCK_SHA256 = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
MILLION_A_SHA256 = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"


def pseudo_random_bytes(size: int) -> bytes:
    return random.Random(size).randbytes(size)


# --- Digest ------------------------------------------------------------------------------


class TestDigest:
    def test_holds_exactly_32_bytes(self) -> None:
        assert Digest(bytes(32)).value == bytes(32)

    @pytest.mark.parametrize("size", [0, 31, 33, 64])
    def test_rejects_any_other_length(self, size: int) -> None:
        with pytest.raises(InvalidDigestError, match=f"expected 32 bytes, got {size}"):
            Digest(bytes(size))

    def test_rejects_mutable_bytes(self) -> None:
        with pytest.raises(InvalidDigestError, match="must be bytes, got bytearray"):
            Digest(bytearray(32))  # type: ignore[arg-type]

    def test_stores_bytes_subclasses_as_plain_bytes(self) -> None:
        class HexBytesLike(bytes):
            def hex(self, *args: Any) -> str:
                return "0x" + super().hex(*args)

        digest = Digest(HexBytesLike(bytes.fromhex(ABC_SHA256)))
        assert type(digest.value) is bytes
        assert digest.hex() == "0x" + ABC_SHA256

    def test_errors_are_value_errors(self) -> None:
        with pytest.raises(ValueError):
            Digest(b"short")

    def test_text_forms(self) -> None:
        digest = Digest(bytes.fromhex(ABC_SHA256))
        assert digest.hex() == "0x" + ABC_SHA256
        assert str(digest) == "sha256:" + ABC_SHA256
        assert bytes(digest) == bytes.fromhex(ABC_SHA256)

    def test_repr_evaluates_back_to_an_equal_digest(self) -> None:
        digest = Digest(bytes.fromhex(ABC_SHA256))
        assert eval(repr(digest), {"Digest": Digest}) == digest

    def test_is_an_immutable_value(self) -> None:
        a = Digest(bytes.fromhex(ABC_SHA256))
        b = Digest(bytes.fromhex(ABC_SHA256))
        assert a == b
        assert hash(a) == hash(b)
        assert len({a, b}) == 1
        assert a != Digest(bytes(32))
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.value = bytes(32)  # type: ignore[misc]

    def test_from_hex_round_trips(self) -> None:
        assert Digest.from_hex("0x" + ABC_SHA256).hex() == "0x" + ABC_SHA256

    def test_from_hex_accepts_uppercase_digits_and_normalises_them(self) -> None:
        assert Digest.from_hex("0x" + ABC_SHA256.upper()).hex() == "0x" + ABC_SHA256

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (ABC_SHA256, "must start with '0x'"),
            ("0X" + ABC_SHA256, "must start with '0x'"),
            ("sha256:" + ABC_SHA256, "must start with '0x'"),
            ("0x" + ABC_SHA256[:-1], "expected 64 hex digits after '0x', got 63"),
            ("0x" + ABC_SHA256 + "0", "expected 64 hex digits after '0x', got 65"),
            ("0x", "expected 64 hex digits after '0x', got 0"),
            ("0x" + "g" * 64, "non-hex characters"),
            ("0x" + ABC_SHA256[:-1] + "\n", "non-hex characters"),
            ("0x" + ABC_SHA256[:-2] + " a", "non-hex characters"),
            # Non-ASCII digits pass str.isdigit-style checks; they are not hex.
            ("0x" + ABC_SHA256[:-1] + "\N{ARABIC-INDIC DIGIT ONE}", "non-hex characters"),
        ],
    )
    def test_from_hex_is_strict(self, text: str, message: str) -> None:
        with pytest.raises(InvalidDigestError, match=message):
            Digest.from_hex(text)

    def test_from_hex_rejects_non_strings(self) -> None:
        with pytest.raises(InvalidDigestError, match="must be a str, got bytes"):
            Digest.from_hex(b"0x" + ABC_SHA256.encode())  # type: ignore[arg-type]

    def test_from_hex_errors_do_not_echo_huge_input(self) -> None:
        with pytest.raises(InvalidDigestError) as caught:
            Digest.from_hex("z" * 100_000)
        assert len(str(caught.value)) < 200


# --- SHA-256 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", EMPTY_SHA256),
        (b"abc", ABC_SHA256),
        (TWO_BLOCK_MESSAGE, TWO_BLOCK_SHA256),
        (b"a" * 1_000_000, MILLION_A_SHA256),
    ],
)
def test_sha256_matches_fips_180_vectors(data: bytes, expected: str) -> None:
    assert sha256_bytes(data) == Digest.from_hex("0x" + expected)
    assert sha256_stream(io.BytesIO(data), chunk_size=1000) == Digest.from_hex("0x" + expected)


def test_sha256_bytes_accepts_any_buffer() -> None:
    expected = sha256_bytes(b"abc")
    assert sha256_bytes(bytearray(b"abc")) == expected
    assert sha256_bytes(memoryview(b"xabcx")[1:4]) == expected


CHUNK_BOUNDARY_SIZES = pytest.mark.parametrize(
    "size_of",
    [
        lambda chunk: 0,
        lambda chunk: 1,
        lambda chunk: chunk - 1,
        lambda chunk: chunk,
        lambda chunk: chunk + 1,
        lambda chunk: 3 * chunk + 5,
    ],
    ids=["0", "1", "chunk-1", "chunk", "chunk+1", "3*chunk+5"],
)


@CHUNK_BOUNDARY_SIZES
def test_sha256_file_equals_one_shot_hash_around_chunk_boundaries(
    tmp_path: Path, size_of: Any
) -> None:
    data = pseudo_random_bytes(size_of(DEFAULT_CHUNK_SIZE))
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    assert sha256_file(path).value == hashlib.sha256(data).digest()


@CHUNK_BOUNDARY_SIZES
def test_sha256_stream_equals_one_shot_hash_around_chunk_boundaries(size_of: Any) -> None:
    chunk = 64
    data = pseudo_random_bytes(size_of(chunk))
    assert sha256_stream(io.BytesIO(data), chunk_size=chunk).value == hashlib.sha256(data).digest()


def test_sha256_stream_hashes_from_the_current_position() -> None:
    stream = io.BytesIO(b"header:abc")
    stream.seek(len(b"header:"))
    assert sha256_stream(stream) == sha256_bytes(b"abc")


class ReadOnlyStream:
    """A stream with read() but no readinto(), like some wrappers and sockets."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)


class TricklingStream(io.RawIOBase):
    """A raw stream that returns short reads, as pipes and sockets do."""

    def __init__(self, data: bytes, *, at_most: int) -> None:
        self._inner = io.BytesIO(data)
        self._at_most = at_most

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)[: self._at_most]
        return self._inner.readinto(view)


def test_sha256_stream_falls_back_to_read_without_readinto() -> None:
    data = pseudo_random_bytes(1000)
    stream = ReadOnlyStream(data)
    assert sha256_stream(stream, chunk_size=64).value == hashlib.sha256(data).digest()  # type: ignore[arg-type]


def test_sha256_stream_handles_short_reads() -> None:
    data = pseudo_random_bytes(1000)
    stream = TricklingStream(data, at_most=7)
    assert sha256_stream(stream, chunk_size=64).value == hashlib.sha256(data).digest()  # type: ignore[arg-type]


class RecordingStream(io.RawIOBase):
    """A raw stream that notes where each buffer it is handed starts, and may keep it."""

    def __init__(self, data: bytes, *, keep: bool = False) -> None:
        self._inner = io.BytesIO(data)
        self._keep = keep
        self.offsets: list[int] = []
        self.kept: list[memoryview] = []

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        address = ctypes.addressof(ctypes.c_char.from_buffer(buffer))
        self.offsets.append(address % mmap.PAGESIZE)
        if self._keep:
            self.kept.append(memoryview(buffer)[:16])
        return self._inner.readinto(buffer)


def test_sha256_stream_reads_into_a_page_aligned_buffer() -> None:
    # The kernel copies file pages into a buffer that does not start on a cache line several
    # times slower; a page boundary is what an unaligned bytearray cost (bench/hashing.py).
    stream = RecordingStream(pseudo_random_bytes(3000))
    sha256_stream(stream, chunk_size=1024)  # type: ignore[arg-type]
    assert stream.offsets and set(stream.offsets) == {0}


def test_sha256_stream_survives_a_stream_that_keeps_a_view_of_its_buffer() -> None:
    data = pseudo_random_bytes(3000)
    stream = RecordingStream(data, keep=True)
    assert sha256_stream(stream, chunk_size=1024).value == hashlib.sha256(data).digest()  # type: ignore[arg-type]


def test_sha256_stream_refuses_a_non_blocking_stream_with_no_data() -> None:
    class NotReady(io.RawIOBase):
        def readinto(self, buffer: Any) -> None:
            return None

    with pytest.raises(InvalidInputError, match="non-blocking"):
        sha256_stream(NotReady())  # type: ignore[arg-type]


def test_sha256_stream_refuses_text_streams() -> None:
    with pytest.raises(InvalidInputError, match="binary mode"):
        sha256_stream(io.StringIO("abc"))  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk_size", [0, -1])
def test_sha256_stream_refuses_non_positive_chunk_sizes(chunk_size: int) -> None:
    with pytest.raises(InvalidInputError, match="chunk_size must be positive"):
        sha256_stream(io.BytesIO(b"abc"), chunk_size=chunk_size)


class TestProgress:
    def test_reports_cumulative_bytes_after_each_chunk(self) -> None:
        seen: list[int] = []
        sha256_stream(io.BytesIO(bytes(250)), chunk_size=100, on_progress=seen.append)
        assert seen == [100, 200, 250]

    def test_final_report_is_the_file_size(self, tmp_path: Path) -> None:
        size = 2 * DEFAULT_CHUNK_SIZE + 123
        path = tmp_path / "data.bin"
        path.write_bytes(pseudo_random_bytes(size))
        seen: list[int] = []
        sha256_file(path, on_progress=seen.append)
        assert seen == [DEFAULT_CHUNK_SIZE, 2 * DEFAULT_CHUNK_SIZE, size]

    def test_reports_through_the_read_fallback_too(self) -> None:
        seen: list[int] = []
        sha256_stream(ReadOnlyStream(bytes(250)), chunk_size=100, on_progress=seen.append)  # type: ignore[arg-type]
        assert seen == [100, 200, 250]

    def test_empty_input_reports_nothing(self) -> None:
        seen: list[int] = []
        sha256_stream(io.BytesIO(b""), on_progress=seen.append)
        assert seen == []


def test_sha256_file_reports_missing_files() -> None:
    with pytest.raises(FileNotFoundError):
        sha256_file("/nonexistent/provledger/data.bin")


@pytest.mark.skipif(sys.platform == "win32", reason="needs the resource module")
def test_hashing_a_large_file_runs_in_constant_memory(tmp_path: Path) -> None:
    size = 256 << 20
    path = tmp_path / "sparse.bin"
    with path.open("wb") as stream:
        stream.truncate(size)  # sparse: costs no disk, reads back as zeros
    # Peak RSS only ever grows, so measure in a fresh interpreter. Reading the whole file
    # afterwards proves the probe would notice a hasher that buffered it.
    probe = textwrap.dedent(
        """
        import resource, sys
        from ledger.hashing import sha256_file

        unit = 1 if sys.platform == "darwin" else 1024
        def peak():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit

        start = peak()
        digest = sha256_file(sys.argv[1])
        hashed = peak()
        with open(sys.argv[1], "rb") as stream:
            data = stream.read()
        print(hashed - start, peak() - hashed, digest.hex())
        """
    )
    # Linux carries a process's peak RSS across exec, so a probe started straight from pytest
    # would begin at pytest's own peak (hundreds of MiB once the chain tests have run) and
    # see no growth at all. A minimal launcher gives the probe a small starting peak.
    launcher = "import subprocess, sys; sys.exit(subprocess.call([sys.executable, *sys.argv[1:]]))"
    package_root = Path(hashing.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    result = subprocess.run(
        [sys.executable, "-c", launcher, "-c", probe, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    hashing_growth, reading_growth, digest = result.stdout.split()

    assert int(hashing_growth) < 16 << 20, result.stdout
    assert int(reading_growth) > 64 << 20, result.stdout
    expected = hashlib.sha256()
    zeros = bytes(1 << 20)
    for _ in range(size // len(zeros)):
        expected.update(zeros)
    assert digest == "0x" + expected.hexdigest()


# --- RFC 8785 canonical JSON -------------------------------------------------------------


def test_canonical_json_matches_rfc_8785_section_3_2_2_example() -> None:
    # The input of RFC 8785 §3.2.2, parsed as any JSON parser would.
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert canonical_json(json.loads(source)) == expected


def test_canonical_json_sorts_keys_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: U+1F600 is the surrogate pair D83D DE00, so it sorts before U+FB33
    # although its code point is larger.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


# RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical serialisation.
RFC_8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), RFC_8785_NUMBERS)
def test_canonical_json_formats_numbers_as_rfc_8785_appendix_b(bits: str, expected: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical_json(number) == expected.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, b"1"),
        (-0.0, b"0"),
        (1e21, b"1e+21"),
        (1e20, b"100000000000000000000"),
        (1e-7, b"1e-7"),
        (2**53 - 1, b"9007199254740991"),
        ("\u20ac", '"\u20ac"'.encode()),  # non-ASCII stays UTF-8, unescaped
        ("\x1f", b'"\\u001f"'),
        ((1, "a"), b'[1,"a"]'),
        ({"b": [], "a": {}}, b'{"a":{},"b":[]}'),
    ],
)
def test_canonical_json_known_answers(value: object, expected: bytes) -> None:
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    "number",
    [10**20, -(10**20), 69048044002861620, 10**21, 10**300],
)
def test_canonical_json_accepts_large_integers_its_output_denotes_exactly(number: int) -> None:
    # JCS writes large integral doubles as plain digits, which json.loads reads back as int;
    # those ints must canonicalise to the same text. (69048044002861620 is not the double's
    # exact binary value, but it is the number JCS writes for it.)
    assert canonical_json(number) == canonical_json(float(number))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "not representable"),
        (float("inf"), "not representable"),
        ({"x": [float("-inf")]}, "not representable"),
        (2**53 + 1, "9007199254740993 would be written as 9007199254740992"),
        (-(2**53) - 1, "would be written as -9007199254740992"),
        (10**21 + 1, "would be written as 1e\\+21"),
        # 2**60 is a double, but JCS writes it as 1152921504606847000: a different integer.
        (2**60, "1152921504606846976 would be written as 1152921504606847000"),
        (10**400, "of 1329 bits exceeds the range of a double"),
        ({1: "one"}, "keys must be strings"),
        ({("a",): "tuple"}, "keys must be strings"),
        ({"\ud800": "lone surrogate key"}, "unpaired surrogate"),
        ("\udfff", "non-UTF-8"),
        ({1, 2}, "unsupported type"),
        (b"bytes", "unsupported type"),
    ],
)
def test_canonical_json_rejects_what_rfc_8785_cannot_express(value: object, message: str) -> None:
    with pytest.raises(CanonicalizationError, match=message):
        canonical_json(value)


def test_canonical_json_rejects_absurd_nesting_cleanly() -> None:
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(CanonicalizationError, match="nested too deeply"):
        canonical_json(value)


def test_canonicalization_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        canonical_json(float("nan"))


def test_metadata_commitment_is_sha256_of_canonical_json() -> None:
    assert metadata_commitment({}) == Digest.from_hex(
        "0x44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
    value = {"title": "Road traffic counts", "rows": 1024, "tags": ["transport"]}
    assert metadata_commitment(value) == sha256_bytes(canonical_json(value))


def test_metadata_commitment_ignores_formatting_and_key_order() -> None:
    a = json.loads('{"b": 1.0, "a": [1, 2, {"y": null, "x": true}]}')
    b = json.loads('{ "a" : [ 1 , 2 , { "x" : true , "y" : null } ] , "b" : 1 }')
    assert metadata_commitment(a) == metadata_commitment(b)


def test_metadata_commitment_changes_with_any_value() -> None:
    assert metadata_commitment({"rows": 1}) != metadata_commitment({"rows": 2})
    assert metadata_commitment({"rows": 1}) != metadata_commitment({"rows": "1"})


# Text without lone surrogates: JSON text must be valid Unicode.
json_text = st.text(st.characters(codec="utf-8"), max_size=20)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(json_text, children, max_size=5)
    ),
    max_leaves=25,
)
# Objects nested three deep, built directly: st.recursive is slow to draw small trees.
json_objects = st.dictionaries(
    json_text,
    json_scalars
    | st.lists(json_scalars, max_size=3)
    | st.dictionaries(
        json_text, json_scalars | st.dictionaries(json_text, json_scalars), max_size=4
    ),
    min_size=2,
    max_size=6,
)


@given(json_values)
def test_canonical_json_is_a_fixed_point_of_parsing(value: object) -> None:
    canonical = canonical_json(value)
    assert canonical_json(json.loads(canonical)) == canonical


@given(st.integers())
def test_an_integer_is_written_exactly_or_refused(number: int) -> None:
    try:
        canonical = canonical_json(number)
    except CanonicalizationError:
        assert abs(number) > 2**53 - 1
    else:
        assert Decimal(canonical.decode()) == number


def _reordered(value: object, rnd: random.Random) -> object:
    """Rebuild *value* with every object's keys inserted in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {key: _reordered(item, rnd) for key, item in items}
    if isinstance(value, list):
        return [_reordered(item, rnd) for item in value]
    return value


@given(json_objects, st.randoms())
def test_key_order_never_changes_the_commitment(value: dict[str, Any], rnd: random.Random) -> None:
    assert metadata_commitment(_reordered(value, rnd)) == metadata_commitment(value)
