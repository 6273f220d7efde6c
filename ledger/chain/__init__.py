"""Talking to a chain: backends, deployment, typed contract clients, revert decoding.

The public names are re-exported here; the modules behind them are free to move.
"""

from ledger.chain.backend import Chain, Receipt
from ledger.chain.deploy import Deployment, Ledger
from ledger.chain.types import (
    AccessRequestRecord,
    AnchorRecord,
    Authorization,
    Classification,
    DatasetRecord,
    DepartmentRecord,
    DepartmentStatus,
    Event,
    NewVersion,
    RequestStatus,
    VersionRef,
)

__all__ = [
    "AccessRequestRecord",
    "AnchorRecord",
    "Authorization",
    "Chain",
    "Classification",
    "DatasetRecord",
    "DepartmentRecord",
    "DepartmentStatus",
    "Deployment",
    "Event",
    "Ledger",
    "NewVersion",
    "Receipt",
    "RequestStatus",
    "VersionRef",
]
