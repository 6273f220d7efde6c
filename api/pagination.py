"""Keyset pagination for list endpoints: opaque cursors over a unique, ordered key.

A cursor is the key of the last row a page showed, so pages stay stable while rows are added
(new rows never shift later pages) and every query is an index range scan, however deep the
page. Rows may also be filtered in Python after the query (visibility rules that SQL cannot
express): the scan then reads chunk after chunk until the page is full or the rows run out, so
a long run of filtered-out rows never ends a listing early.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import tuple_
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from ledger.errors import InvalidInputError
from ledger.jsonguard import loads

Row = TypeVar("Row")
Key = tuple[int | str, ...]


def encode_cursor(key: Key) -> str:
    """The opaque cursor for a position."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def decode_cursor(text: str | None, arity: int) -> Key | None:
    """The position in a cursor this service issued; ``InvalidInputError`` for anything else."""
    if not text:
        return None
    try:
        value = loads(base64.urlsafe_b64decode(text.encode()), max_depth=1)  # a flat list
    except ValueError as exc:
        raise InvalidInputError(f"cursor is not one this service issued: {exc}") from exc
    if (
        not isinstance(value, list)
        or len(value) != arity
        or not all(isinstance(v, int | str) and not isinstance(v, bool) for v in value)
    ):
        raise InvalidInputError("cursor is not one this service issued")
    return tuple(value)


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
