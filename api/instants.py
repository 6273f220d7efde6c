"""Times in query parameters: Unix seconds, or an RFC 3339 date or date and time (ISO 8601 as
the internet writes it), read to whole Unix seconds.

The accepted shapes are exactly those the OpenAPI document declares (``format: date`` and
``date-time``, or up to 11 digits), so a value the document calls valid is read, and one it
calls invalid is refused (422) rather than guessed at: no naive times (whose zone would be a
guess), no week dates or ordinal dates. Read by arithmetic, not by converting to UTC, so an
offset that carries a time across the year 1 or 9999 is a time like any other.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Query

from ledger.errors import InvalidInputError

_UNIX_SECONDS = re.compile(r"\d{1,11}")  # to the year 5138; later times as dates
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_DATE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_EPOCH = datetime(1970, 1, 1)

InstantQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        description="A time: Unix seconds (1767225600), an RFC 3339 date (2026-01-01: its first "
        "second, UTC) or date and time with its offset (2026-01-01T09:30:00Z, "
        "2026-01-01T10:30:00+01:00). Fractions of a second are dropped.",
        examples=["2026-01-01T09:30:00Z"],
        json_schema_extra={
            "anyOf": [
                {"type": "string", "pattern": r"^\d{1,11}$"},
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time", "maxLength": 40},
            ]
        },
    ),
]


def instant(text: str | None) -> int | None:
    """The Unix seconds (rounded down) an :data:`InstantQuery` names, or None if it names none;
    ``InvalidInputError`` for anything else, a date the calendar lacks (2026-02-30) included."""
    if text is None:
        return None
    if _UNIX_SECONDS.fullmatch(text):
        return int(text)
    try:
        if date := _DATE.fullmatch(text):
            return _seconds(datetime.strptime(date[1], "%Y-%m-%d"))
        if moment := _DATE_TIME.fullmatch(text):
            day, time, _zulu, sign, hours, minutes = moment.groups()
            local = datetime.strptime(f"{day}T{time}", "%Y-%m-%dT%H:%M:%S")
            if sign is None:
                return _seconds(local)
            if int(hours) > 23 or int(minutes) > 59:
                raise ValueError(f"offset {sign}{hours}:{minutes} out of range")
            offset = timedelta(hours=int(hours), minutes=int(minutes))
            return _seconds(local) - int((offset if sign == "+" else -offset).total_seconds())
    except ValueError as exc:
        raise InvalidInputError(f"at is not a time: {text!r} ({exc})") from exc
    raise InvalidInputError(
        f"at is not a time: {text!r}; send Unix seconds, a date (2026-01-31) or a date and time "
        "with its offset (2026-01-31T17:00:00Z)"
    )


def _seconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(seconds=1)
