"""A size and nesting pre-check for JSON bodies, run before ``json.loads`` ever sees them.

py-evm (through py_ecc) raises Python's recursion limit to 100,000 at import, so in this
process ``json.loads`` of ``[[[[…`` a hundred thousand deep recurses in C until the thread's
stack overflows and the process dies. Bounding the size and the depth first makes any body safe
to parse. The check is a few passes of bytes methods (C speed, linear in the body); no Python loop
runs per byte.

Named generically (``check_json_bounds``) so it can merge with the service-wide body limits.
"""

from __future__ import annotations

from typing import Final

from ledger.errors import JsonLimitError

# Every byte but a bracket or a quote is deleted; curly brackets become square ones (a
# mismatched pair then counts as a pair: the parser rejects it later, and depth is all that
# matters here).
_NOT_KEPT: Final = bytes(b for b in range(256) if b not in b'[]{}"')
_SQUARE: Final = bytes.maketrans(b"{}", b"[]")


def check_json_bounds(raw: bytes, *, max_bytes: int, max_depth: int) -> None:
    """Raise :class:`JsonLimitError` unless ``raw`` is at most ``max_bytes`` long and no array
    or object in it is nested more than ``max_depth`` deep (a top-level ``[]`` is depth 1).

    Malformed JSON may pass (the parser rejects it next); the guarantee is only that anything
    passing cannot nest deeper than ``max_depth``: brackets inside strings are ignored, and
    unbalanced brackets count as nesting, so they can only make the check stricter.
    """
    if len(raw) > max_bytes:
        raise JsonLimitError(f"the body is {len(raw)} bytes, more than {max_bytes}")
    # Strings out: in JSON text a backslash always pairs with the next byte, so dropping the
    # escaped backslashes and then the escaped quotes leaves only the quotes that delimit
    # strings; every other piece between them is outside a string.
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = unescaped.translate(_SQUARE, _NOT_KEPT)
    if b'"' in brackets:
        brackets = b"".join(brackets.split(b'"')[::2])
    # Each pass removes the innermost pairs, i.e. exactly one level of nesting; whatever is
    # left after max_depth passes was nested deeper (or never closed). A run of openers longer
    # than the limit settles the common attack at once.
    too_deep = b"[" * (max_depth + 1)
    for _ in range(max_depth):
        if not brackets:
            return
        if too_deep in brackets:
            break
        brackets = brackets.replace(b"[]", b"")
    if brackets:
        raise JsonLimitError(f"the JSON is nested more than {max_depth} levels deep")


__all__ = ["check_json_bounds"]
