"""Times in query parameters: Unix seconds, or an RFC 3339 date or date and time with its
offset, read to whole seconds; anything else is refused, never guessed at."""

from __future__ import annotations

import pytest

from api.instants import instant
from ledger.errors import InvalidInputError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),
        ("1769878800", 1769878800),
        ("2026-01-31", 1769817600),  # its first second, UTC
        ("2026-01-31T17:00:00Z", 1769878800),
        ("2026-01-31t17:00:00z", 1769878800),
        ("2026-01-31T18:30:00+01:30", 1769878800),
        ("2026-01-31T12:00:00-05:00", 1769878800),
        ("2026-01-31T17:00:00.999999Z", 1769878800),  # fractions dropped
        ("1969-12-31T23:59:59.5Z", -1),  # dropped is rounded down, before 1970 too
        ("0001-01-01T00:00:00+01:00", -62135596800 - 3600),  # an offset across the year 1
    ],
)
def test_a_time_is_read_to_whole_unix_seconds(text: str, seconds: int) -> None:
    assert instant(text) == seconds


def test_no_time_is_none() -> None:
    assert instant(None) is None


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30",
        "2026-01-31T17:00",
        "2026-01-31T17:00:00",  # no offset: which zone?
        "2026-01-31 17:00:00Z",
        "2026-01-31T17:00:00+24:00",
        "2026-W05",
        "-5",
        "1e9",
        "123456789012",
        "",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidInputError, match="at is not a time"):
        instant(text)
