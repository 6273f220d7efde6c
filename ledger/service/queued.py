"""What a write use case returns: the operation queued for the chain and what it will make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.relayer.models import Operation


@dataclass(frozen=True, slots=True)
class Queued:
    """A write queued for the chain (not yet committed: the caller commits the session): the
    operation to follow, and the resource it will create or change."""

    operation: Operation
    resource: dict[str, Any]
