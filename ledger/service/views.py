"""Pieces every read's answer shares."""

from __future__ import annotations

from typing import Any


def coordinates(row: Any, prefix: str = "created") -> dict[str, Any]:
    """Where an index row's event stands on chain (``prefix``: which of its events)."""
    return {
        "tx_hash": getattr(row, f"{prefix}_tx_hash"),
        "block_number": getattr(row, f"{prefix}_block_number"),
        "block_hash": getattr(row, f"{prefix}_block_hash"),
        "log_index": getattr(row, f"{prefix}_log_index"),
        "block_time": getattr(row, f"{prefix}_at"),
    }


def event_coordinates(event: Any) -> dict[str, Any]:
    """Where an indexed event (:class:`~ledger.index.models.IndexEvent`) stands on chain."""
    return {
        "tx_hash": event.tx_hash,
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "log_index": event.log_index,
        "block_time": event.block_time,
    }
