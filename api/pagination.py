"""The ``cursor`` query parameter of the listings, by the shape of their keys (pagination
itself is :mod:`ledger.service.pagination`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from ledger.service.pagination import cursor_pattern

_CURSOR = "next_cursor of the previous page (the dot-separated key of its last row)"
#: The ``cursor`` parameter of the listings, by the shape of their keys.
DatasetsCursor = Annotated[
    str | None, Query(pattern=cursor_pattern("int", "int", "id"), description=_CURSOR)
]
EventsCursor = Annotated[
    str | None, Query(pattern=cursor_pattern("int", "int"), description=_CURSOR)
]
DepartmentsCursor = Annotated[str | None, Query(pattern=cursor_pattern("int"), description=_CURSOR)]
#: A department's encryption keys, by serial.
SerialCursor = Annotated[str | None, Query(pattern=cursor_pattern("int"), description=_CURSOR)]
