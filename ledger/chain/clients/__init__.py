"""Typed clients for the contracts: one Python method per contract function.

Each department action comes in three forms: ``x(..., sender=key)`` sent by the department's
own key; ``sign_x(..., signer=key, department_id=…, deadline=…)`` producing an
:class:`Authorization`; and ``x_by_sig(..., auth=…, sender=relayer)`` submitting it.
Reverts arrive as :mod:`ledger.errors` classes (``DatasetNotOwnerError``…).
"""

from ledger.chain.clients.access import AccessRegistryClient
from ledger.chain.clients.anchors import AnchorRegistryClient
from ledger.chain.clients.base import ContractClient, SignedActionsClient
from ledger.chain.clients.datasets import DatasetRegistryClient
from ledger.chain.clients.departments import DepartmentRegistryClient
from ledger.chain.clients.keys import KeyDirectoryClient

__all__ = [
    "AccessRegistryClient",
    "AnchorRegistryClient",
    "ContractClient",
    "DatasetRegistryClient",
    "DepartmentRegistryClient",
    "KeyDirectoryClient",
    "SignedActionsClient",
]
