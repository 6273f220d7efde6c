"""Proactive content negotiation: the representation an ``Accept`` header asks for (RFC 9110
§12.5.1), among the ones a route offers."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.errors import NotAcceptableError


def _ranges(accept: str) -> list[tuple[str, float]]:
    """The media ranges of an ``Accept`` header with their weights; malformed parts are
    skipped (a client that cannot spell one range still means the others)."""
    ranges = []
    for part in accept.split(","):
        media_range, *parameters = (p.strip() for p in part.split(";"))
        if media_range.count("/") != 1:
            continue
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = -1.0  # not a weight: the range is dropped
                if not 0.0 <= weight <= 1.0:
                    weight = -1.0
        if weight >= 0.0:
            ranges.append((media_range.lower(), weight))
    return ranges


def _weight(offer: str, ranges: list[tuple[str, float]]) -> float:
    """The weight of the most specific range that matches ``offer`` (0 if none does)."""
    kind = offer.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for media_range, weight in ranges:
        if media_range == offer:
            specificity = 2
        elif media_range == f"{kind}/*":
            specificity = 1
        elif media_range == "*/*":
            specificity = 0
        else:
            continue
        best = max(best, (specificity, weight), key=lambda b: b[0])
    return best[1]


def negotiate(accept: str | None, offers: Sequence[str]) -> str:
    """The offered media type the ``Accept`` header prefers (ties go to the earlier offer);
    the first offer without a header. ``NotAcceptableError`` if the header accepts none."""
    if accept is None or not accept.strip():
        return offers[0]
    ranges = _ranges(accept)
    if not ranges:  # nothing readable in the header: as if it were not sent
        return offers[0]
    weights = [_weight(offer, ranges) for offer in offers]
    best = max(range(len(offers)), key=lambda i: (weights[i], -i))
    if weights[best] <= 0.0:
        raise NotAcceptableError(
            f"none of the accepted media types is available here; ask for one of: "
            f"{', '.join(offers)} (or use the format parameter)"
        )
    return offers[best]
