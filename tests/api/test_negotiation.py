"""Choosing a representation from an Accept header."""

from __future__ import annotations

import pytest

from api.negotiation import negotiate
from ledger.errors import NotAcceptableError

OFFERS = ["application/json", "application/prov+json", "text/provenance-notation", "text/turtle"]


@pytest.mark.parametrize("accept", [None, "", "*/*", "garbage", "application/*"])
def test_no_preference_gets_the_first_offer(accept: str | None) -> None:
    assert negotiate(accept, OFFERS) == "application/json"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("text/turtle", "text/turtle"),
        ("TEXT/Turtle; charset=utf-8", "text/turtle"),
        ("application/prov+json", "application/prov+json"),
        ("text/*", "text/provenance-notation"),
        ("text/turtle;q=0.4, text/provenance-notation;q=0.9", "text/provenance-notation"),
        ("application/json;q=0.1, */*;q=0.5", "application/prov+json"),
        ("text/html, text/turtle;q=0.2", "text/turtle"),
    ],
)
def test_the_most_preferred_offer_wins(accept: str, chosen: str) -> None:
    assert negotiate(accept, OFFERS) == chosen


def test_a_specific_range_outranks_a_wildcard_even_with_a_lower_weight() -> None:
    assert negotiate("text/*;q=1, text/turtle;q=0, */*;q=0.1", OFFERS) == "text/provenance-notation"


@pytest.mark.parametrize("accept", ["application/xml", "text/turtle;q=0", "image/*, text/html"])
def test_nothing_acceptable_is_refused(accept: str) -> None:
    with pytest.raises(NotAcceptableError, match="text/turtle"):
        negotiate(accept, OFFERS)
