"""Specification of ledger.jsonguard: JSON nesting is bounded before any parser sees a text.

The scanner must agree with the depth of the value a parser would build (never pass a document
nested deeper than allowed, never refuse one within bounds), whatever the chunking of the bytes,
and on arbitrary bytes raise nothing but its two documented errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidInputError, InvalidJsonError, JsonTooDeepError
from ledger.jsonguard import DEFAULT_MAX_DEPTH, JsonScanner, check_json, loads


def reference_depth(value: Any) -> int:
    """Nesting of a parsed value, computed the obvious (recursive) way: [] is 1, [[]] is 2."""
    if isinstance(value, list):
        return 1 + max((reference_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((reference_depth(item) for item in value.values()), default=0)
    return 0


def scanned(chunks: list[bytes], max_depth: int) -> type[Exception] | None:
    """The error class the scanner raises for ``chunks`` fed in order, or None."""
    scanner = JsonScanner(max_depth=max_depth)
    try:
        for chunk in chunks:
            scanner.feed(chunk)
        scanner.finish()
    except (InvalidJsonError, JsonTooDeepError) as exc:
        return type(exc)
    return None


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    # Text with quotes, backslashes, brackets, control characters and non-ASCII: everything
    # the scanner must see as inside a string.
    st.text(alphabet=st.sampled_from('ab"\\/[]{}\n\t\x00\x1f é€😀')),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=30,
)


@st.composite
def deep_values(draw: st.DrawFn) -> Any:
    """A value wrapped in up to 80 arrays and objects: around any limit a test picks."""
    value = draw(values)
    for wrapper in draw(st.lists(st.sampled_from(["list", "dict"]), max_size=80)):
        value = [value] if wrapper == "list" else {"k": value}
    return value


encodings = st.sampled_from(
    [
        {},
        {"ensure_ascii": False},
        {"indent": 2},
        {"separators": (",", ":"), "ensure_ascii": False},
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    value=deep_values(),
    options=encodings,
    max_depth=st.integers(1, 64),
    cuts=st.lists(st.integers(0, 10**6), max_size=6),
)
def test_the_scanner_agrees_with_the_depth_of_the_parsed_value(
    value: Any, options: dict[str, Any], max_depth: int, cuts: list[int]
) -> None:
    data = json.dumps(value, **options).encode()
    expected = None if reference_depth(value) <= max_depth else JsonTooDeepError
    assert scanned([data], max_depth) is expected
    assert scanned(split(data, cuts), max_depth) is expected


@settings(max_examples=1000, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 10**6), max_size=4))
def test_arbitrary_bytes_raise_only_the_documented_errors_whatever_the_chunking(
    data: bytes, cuts: list[int]
) -> None:
    whole = scanned([data], 8)  # anything else escapes and fails the test
    assert scanned(split(data, cuts), 8) is whole


json_ish = st.lists(
    st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b",", b":", b"1", b"a", b" ", b'"x"']),
    max_size=60,
).map(b"".join)


@settings(max_examples=2000, deadline=None)
@given(data=json_ish, max_depth=st.integers(1, 6), cuts=st.lists(st.integers(0, 10**6), max_size=4))
def test_whatever_the_scanner_passes_parses_no_deeper_than_the_limit(
    data: bytes, max_depth: int, cuts: list[int]
) -> None:
    verdict = scanned([data], max_depth)
    assert scanned(split(data, cuts), max_depth) is verdict
    try:
        parsed = json.loads(data)
    except ValueError:
        return
    if verdict is None:
        assert reference_depth(parsed) <= max_depth
    else:
        assert verdict is JsonTooDeepError and reference_depth(parsed) > max_depth


def test_a_document_nested_100000_deep_is_refused_without_recursion() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(JsonTooDeepError, match=f"deeper than {DEFAULT_MAX_DEPTH} levels"):
        check_json(deep)
    with pytest.raises(JsonTooDeepError):
        loads(b'{"metadata": ' + b"{" * 100_000)


def test_brackets_and_quotes_inside_strings_are_not_structure() -> None:
    text = json.dumps({"a": "[[[[{{{{" * 100, "b": '\\"]]]]"', "c": "\\\\"})
    check_json(text, max_depth=1)
    assert loads(text, max_depth=1)["b"] == '\\"]]]]"'


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b" \n\t", "empty"),
        (b"[1, 2", "open"),
        (b'{"a": "b', "inside a string"),
        (b"]", "nothing open"),
        (b"{nope}", "unexpected byte b'o'"),
        (b'"tab\there"', "control character"),
        (b'"\\x"', "invalid escape"),
        (b"\xff[]", "not UTF-8"),
        (b'["\xc3"]', "not UTF-8"),
        (b'["\xc3', "inside a UTF-8 sequence"),
        # json.loads(bytes) reads these as UTF-16/32 or skips the mark, so a scan reading
        # them as UTF-8 would not see the strings the parser sees: refused outright.
        (b"\x00[\x00[", "unexpected byte"),
        (b"\xff\xfe[\x00", "not UTF-8"),
        (b"\xef\xbb\xbf[]", "unexpected byte"),
    ],
)
def test_what_is_not_json_is_refused_saying_why(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidJsonError, match="not JSON") as raised:
        check_json(data)
    assert reason in str(raised.value)


def test_errors_are_ledger_input_errors_with_stable_codes() -> None:
    assert issubclass(JsonTooDeepError, InvalidInputError) and JsonTooDeepError.code == (
        "json-too-deep"
    )
    assert issubclass(InvalidJsonError, ValueError) and InvalidJsonError.code == "invalid-json"
    with pytest.raises(InvalidJsonError, match="Extra data"):
        loads("[] []")
    with pytest.raises(InvalidJsonError, match="not Unicode"):
        loads('"\ud800"')


def test_a_large_document_is_scanned_in_constant_memory_at_parser_speed() -> None:
    # Ten thousand bulk records with escapes in their strings, and megabytes of empty arrays:
    # both scanned within a small multiple of json.loads, in a fresh process so that the peak
    # memory is the scanner's.
    program = """
import json, time
from ledger.jsonguard import JsonScanner
record = {"content_hash": "0x" + "ab" * 32, "metadata": {"title": 'a "quoted" title',
          "description": "line" + chr(10) * 40, "tags": ["x", "y"]}}
documents = [json.dumps({"records": [record] * 10_000}).encode(),
             b"[" + b"[]," * 2_000_000 + b"[]]"]
for document in documents:
    scanner = JsonScanner()
    started = time.perf_counter()
    for at in range(0, len(document), 65536):
        scanner.feed(document[at : at + 65536])
    scanner.finish()
    print(len(document), time.perf_counter() - started)
status = open("/proc/self/status").read()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    *timings, peak_kib = result.stdout.split("\n")[:-1]
    for line in timings:
        size, seconds = line.split()
        assert float(seconds) < 0.2 * int(size) / 5e6, line  # under 40 ms per MB, with slack
    assert int(peak_kib) < 80_000  # the interpreter and the documents take ~30 MB
