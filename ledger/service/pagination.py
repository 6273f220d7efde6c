"""Keyset pagination for the listings: cursors over a unique, ordered key.

A cursor is the key of the last row a page showed, so pages stay stable while rows are added
(new rows never shift later pages) and every query is an index range scan, however deep the
page. Rows may also be filtered in Python after the query (visibility rules that SQL cannot
express): the scan then reads chunk after chunk until the page is full or the rows run out, so
a long run of filtered-out rows never ends a listing early.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from sqlalchemy import tuple_
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from ledger.errors import InvalidInputError

Row = TypeVar("Row")
Key = tuple[int | str, ...]


#: A key part in a cursor: a non-negative integer below 10**18 (fits a signed 64-bit column),
#: or a 32-byte id as 0x + 64 lower-case hex digits.
_INT = r"(?:0|[1-9][0-9]{0,17})"
_ID = r"0x[0-9a-f]{64}"
Part = Literal["int", "id"]


def cursor_pattern(*parts: Part) -> str:
    """The exact shape of a cursor over keys of these parts, for the OpenAPI document: any
    cursor of this shape is a position (pages after it), so the document says all there is.
    An empty cursor is the first page."""
    return "^(?:" + r"\.".join(_INT if part == "int" else _ID for part in parts) + ")?$"


def encode_cursor(key: Key) -> str:
    """The cursor for a position: the key's parts, dot-separated."""
    return ".".join(str(part) for part in key)


def decode_cursor(text: str | None, arity: int) -> Key | None:
    """The position a cursor names; ``InvalidInputError`` for anything not of a cursor's shape.

    Why readable and not signed: a cursor only says where a page starts. Any position is as
    good as another (the listing still applies the token's visibility), so a forged one gains
    nothing, and a plain shape can be stated exactly in the OpenAPI document.
    """
    if not text:
        return None
    parts = text.split(".")
    if len(parts) != arity:
        raise InvalidInputError(f"cursor has {len(parts)} parts, this listing's have {arity}")
    key: list[int | str] = []
    for part in parts:
        if re.fullmatch(_INT, part):
            key.append(int(part))
        elif re.fullmatch(_ID, part):
            key.append(part)
        else:
            raise InvalidInputError(f"cursor part {part[:80]!r} is neither a number nor an id")
    return tuple(key)


def keyset_page(
    session: Session,
    query: SelectOfScalar[Row],
    *,
    key: Sequence[Any],
    key_of: Callable[[Row], Key],
    cursor: str | None,
    limit: int,
    descending: bool = False,
    keep: Callable[[Row], bool] | None = None,
) -> tuple[list[Row], str | None]:
    """Up to ``limit`` rows of ``query`` after ``cursor`` in ``key`` order that pass ``keep``,
    and the cursor of the next page (``None`` on the last page).

    ``key`` lists the columns of a unique key, ``key_of`` reads the same values from a row.
    """
    position = decode_cursor(cursor, len(key))
    chunk_size = max(2 * limit, 50)
    ordered = [column.desc() if descending else column for column in key]
    page: list[Row] = []
    rows: Sequence[Row] = ()
    while len(page) < limit:
        chunk = query
        if position is not None:
            after = (
                tuple_(*key) < tuple_(*position) if descending else tuple_(*key) > tuple_(*position)
            )
            chunk = chunk.where(after)
        rows = session.exec(chunk.order_by(*ordered).limit(chunk_size)).all()
        for row in rows:
            position = key_of(row)
            if keep is None or keep(row):
                page.append(row)
                if len(page) == limit:
                    break
        if len(rows) < chunk_size:
            break  # the rows ran out
    last_row_seen = not rows or position == key_of(rows[-1])
    more = len(page) == limit and not (len(rows) < chunk_size and last_row_seen)
    return page, encode_cursor(position) if more and position is not None else None


def page(items: list[Any], next_cursor: str | None, indexed_block: int | None) -> dict[str, Any]:
    """A listing's answer: its rows, where the next page starts, how far the index has read."""
    return {"items": items, "next_cursor": next_cursor, "indexed_block": indexed_block}
