"""Bound JSON nesting before any parser sees a document: an iterative, streaming scanner.

py-evm and py_ecc raise Python's recursion limit to 100,000 at import (the EVM's call depth
needs it), so a recursive parser given ``[[[[…`` 100,000 deep no longer stops at a
``RecursionError``: the C JSON parser (and recursive code walking what it built, such as
RFC 8785 canonicalisation) overflows the C stack and the process dies. Lowering the limit
again would break py-evm, so every untrusted JSON text is scanned here first, without
recursion, and refused when it nests deeper than ``max_depth``.

The scanner tracks strings and escapes (a bracket inside a string is not structure) and, where
it costs nothing extra, refuses what is not JSON: bytes that are not UTF-8, control characters
inside strings, bytes no JSON text holds outside a string, a closing bracket with nothing open,
a document that ends inside a string or a container. Being strict about UTF-8 is what makes the
depth it computes the parser's depth: ``json.loads`` given bytes guesses UTF-16 or UTF-32 from
NUL bytes and byte-order marks, and a string boundary read in one encoding is not one in
another. It does not check everything a parser does (a ``[`` closed by ``}``, a missing comma,
a misspelt literal): it only guarantees that what it passes nests no deeper than allowed.

Pure: standard library only.
"""

from __future__ import annotations

import codecs
import json
import re
from array import array
from itertools import accumulate
from typing import Any

from ledger.errors import InvalidJsonError, JsonTooDeepError

__all__ = ["DEFAULT_MAX_DEPTH", "JsonScanner", "check_json", "loads"]

#: Deep enough for every document the service reads (its deepest, a JSON-RPC filter, nests 5).
DEFAULT_MAX_DEPTH = 32

# Outside strings a JSON text holds whitespace, punctuation, numbers and the letters of its
# literals (and of Python's NaN and Infinity, which json.loads accepts).
_SCALARS = rb"\t\n\r ,:0-9+\-.eEtrufalsnNIiy"
_STRING_BODY = rb'(?:[^"\\\x00-\x1f]++|\\["\\/bfnrtu])*+'
_STRING = rb'"' + _STRING_BODY + rb'"'
# A run of structure: scalars, brackets and whole strings. Possessive quantifiers: the regex
# engine never backtracks, so a run costs linear time whatever the bytes.
_RUN = re.compile(rb"(?:[" + _SCALARS + rb"\[\]{}]++|" + _STRING + rb")*+")
_STRINGS = re.compile(_STRING)
_STRING_REST = re.compile(_STRING_BODY)
_ESCAPABLE = frozenset(b'"\\/bfnrtu')
_SIMPLE_ESCAPES = tuple(b"\\" + bytes([c]) for c in b"/bfnrtu")
# Stands in for an escape sequence: fine inside a string (DEL is no control character to
# JSON), refused outside one, where a backslash is refused.
_STAND_IN = b"\x7f"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Objects nest like arrays; openers become +1, closers -1 (a signed byte): depths are sums.
_UNIFY = bytes.maketrans(b"{}", b"[]")
_STEPS = bytes.maketrans(b"[]", b"\x01\xff")
_BLANK = b" \t\n\r"
_ALLOWED_OUTSIDE = b"\t\n\r ,:0123456789+-.eEtrufalsnNIiy[]{}"
_NON_CONTROLS = bytes(range(0x20, 256))
#: Bytes looked at per step: bounds the scanner's own temporary memory.
_WINDOW = 64 * 1024


class JsonScanner:
    """Feed a JSON document in chunks; :meth:`finish` at its end.

    Raises :class:`JsonTooDeepError` as soon as the document opens more than ``max_depth``
    nested arrays and objects, and :class:`InvalidJsonError` as soon as it is not JSON (see the
    module docstring for what is checked). Memory is constant: a depth count, a few flags and
    the UTF-8 decoder's state.
    """

    def __init__(self, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        if max_depth < 1:
            raise ValueError(f"max_depth must be at least 1, got {max_depth}")
        self.max_depth = max_depth
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._blank = True
        self._offset = 0
        self._utf8 = codecs.getincrementaldecoder("utf-8")()

    @property
    def depth(self) -> int:
        """How many arrays and objects are open at the end of what was fed."""
        return self._depth

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Scan the next bytes of the document."""
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _WINDOW):
            window = bytes(view[start : start + _WINDOW])
            try:
                self._utf8.decode(window)  # validation only; the text is dropped
            except UnicodeDecodeError as exc:
                raise InvalidJsonError(
                    f"not JSON: the bytes are not UTF-8 (at byte {self._offset + exc.start})"
                ) from None
            self._scan(window)
            self._offset += len(window)

    def finish(self) -> None:
        """The document ended: refuse it if it ended inside a value, or held nothing."""
        try:
            self._utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InvalidJsonError("not JSON: the bytes end inside a UTF-8 sequence") from None
        if self._in_string:
            raise InvalidJsonError("not JSON: the document ends inside a string")
        if self._depth:
            raise InvalidJsonError(
                f"not JSON: the document ends with {self._depth} array(s) or object(s) open"
            )
        if self._blank:
            raise InvalidJsonError("not JSON: the document is empty")

    def _scan(self, data: bytes) -> None:
        if not self._escaped:
            plain = _unescaped(data) if b"\\" in data else data
            if plain is not None and self._scan_quick(plain):
                return
        end = len(data)
        at = 0
        while at < end:
            if self._in_string:
                at = self._string(data, at)
                continue
            run = _RUN.match(data, at)
            assert run is not None  # the pattern matches the empty string
            if run.end() > at:
                text = data[at : run.end()]
                if self._blank and text.strip(_BLANK):
                    self._blank = False
                self._structure(_STRINGS.sub(b"", text))
                at = run.end()
                continue
            if data[at] == ord('"'):  # a string the run could not take whole: cut off, or bad
                self._in_string = True
                self._blank = False
                at += 1
                continue
            raise InvalidJsonError(
                f"not JSON: unexpected byte {data[at : at + 1]!r} at byte {self._offset + at}"
            )

    def _scan_quick(self, data: bytes) -> bool:
        """Scan bytes holding no escapes: then every quote starts or ends a string, and
        splitting at quotes separates strings from structure at C speed (several times faster
        than the general path). False, with nothing changed, when the bytes hold anything
        to refuse: the general path then says what and where."""
        parts = data.split(b'"')
        first_inside = 0 if self._in_string else 1
        if b"".join(parts[first_inside::2]).translate(None, _NON_CONTROLS):
            return False  # a control character in a string
        outside = b"".join(parts[1 - first_inside :: 2])
        if outside.translate(None, _ALLOWED_OUTSIDE):
            return False  # a byte no JSON text holds outside a string
        try:
            self._structure(outside)
        except (InvalidJsonError, JsonTooDeepError):
            return False  # _structure changes nothing when it refuses
        if len(parts) > 1 or outside.strip(_BLANK):
            self._blank = False
        if len(parts) % 2 == 0:  # an odd number of quotes
            self._in_string = not self._in_string
        return True

    def _string(self, data: bytes, at: int) -> int:
        """Continue inside a string from ``at``; where scanning goes on."""
        if self._escaped:
            if data[at] not in _ESCAPABLE:
                raise InvalidJsonError(
                    f"not JSON: invalid escape {data[at : at + 1]!r} at byte {self._offset + at}"
                )
            self._escaped = False
            at += 1
        at = _STRING_REST.match(data, at).end()  # type: ignore[union-attr]
        if at == len(data):
            return at
        byte = data[at]
        if byte == ord('"'):
            self._in_string = False
        elif byte == ord("\\"):
            self._escaped = True  # the next byte (maybe in the next chunk) is the escape's
        else:
            raise InvalidJsonError(
                f"not JSON: control character {data[at : at + 1]!r} in a string "
                f"at byte {self._offset + at}"
            )
        return at + 1

    def _structure(self, structure: bytes) -> None:
        """Account for scalars and brackets (strings taken out). Changes nothing if it refuses."""
        brackets = structure.translate(_UNIFY, _NOT_BRACKETS)
        if not brackets:
            return
        # Quick and exact in the common case: pairs "[]" removed pass after pass (in C) leave
        # "]]]…[[[". Pass count p (the deepest nesting of pairs closed here), the o openers
        # left: no point is deeper than depth + o + p, and the c closers left close what was
        # open before. Within bounds, the depth after is depth - c + o.
        reduced, passes = brackets, 0
        while b"[]" in reduced and passes <= self.max_depth:
            reduced = reduced.replace(b"[]", b"")
            passes += 1
        closers = reduced.count(b"]")
        openers = len(reduced) - closers
        if closers <= self._depth and self._depth + openers + passes <= self.max_depth:
            self._depth += openers - closers
            return
        # Otherwise the depth after every bracket, summed in C rather than a Python loop.
        steps = array("b", brackets.translate(_STEPS))
        depths = list(accumulate(steps, initial=self._depth))
        if max(depths) > self.max_depth or min(depths) < 0:
            # Whichever came first in the bytes, so the verdict never depends on chunking.
            first = next(d for d in depths if d > self.max_depth or d < 0)
            if first < 0:
                raise InvalidJsonError("not JSON: a closing bracket with nothing open")
            raise JsonTooDeepError(f"JSON nests deeper than {self.max_depth} levels")
        self._depth = depths[-1]


def _unescaped(data: bytes) -> bytes | None:
    """``data`` with each escape sequence replaced by one byte that holds no quote, so every quote
    left starts or ends a string; or None if a backslash escapes nothing valid or is the last
    byte (the general path then decides). Backslashes pair off from the left, as JSON reads
    them."""
    data = data.replace(b"\\\\", _STAND_IN).replace(b'\\"', _STAND_IN)
    for escaped in _SIMPLE_ESCAPES:
        data = data.replace(escaped, _STAND_IN)
    return None if b"\\" in data else data


def check_json(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Refuse ``data`` unless it is a JSON document nested at most ``max_depth`` deep (as far as
    :class:`JsonScanner` checks)."""
    if isinstance(data, str):
        try:
            data = data.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate: no UTF-8 text holds one
            raise InvalidJsonError(f"not JSON: the text is not Unicode: {exc}") from None
    scanner = JsonScanner(max_depth=max_depth)
    scanner.feed(data)
    scanner.finish()


def loads(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """``json.loads`` of untrusted text, scanned first. Raises :class:`JsonTooDeepError` or
    :class:`InvalidJsonError` (a ``ValueError``, as ``json.loads`` raises), nothing else."""
    check_json(data, max_depth=max_depth)
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InvalidJsonError(f"not JSON: {exc}") from None
