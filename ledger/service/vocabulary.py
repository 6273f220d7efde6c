"""The provledger namespace: the names the standards exports (PROV, DCAT) give the ledger's
datasets, versions and departments, and the terms of their attributes.

The namespace is ``https://provledger.example/ns#``. ``.example`` is reserved (RFC 2606), so the
name can never be re-assigned to someone else and never changes between deployments or
releases: a term is a name, not a page to fetch. The same IRI means the same thing in both
exports, so a PROV graph and a DCAT catalogue can be merged: a dataset's IRI is its PROV entity
and its ``dcat:Dataset``, a version's is its PROV entity and its ``dcat:Distribution``, a
department's is its PROV agent and the publisher of its datasets.

Identifiers are what the chain identifies (ids derived on chain never collide within a
deployment); which chain and contract they were read from are attributes of each record.
"""

from __future__ import annotations

#: The namespace IRI, and the prefix both exports declare for it.
NAMESPACE = "https://provledger.example/ns#"
PREFIX = "pl"


def dataset_name(dataset_id: str) -> str:
    """A dataset, as a local name in the namespace: ``dataset/0x…``."""
    return f"dataset/{dataset_id}"


def version_name(dataset_id: str, version: int) -> str:
    """One version of a dataset: ``dataset/0x…/v/3``."""
    return f"dataset/{dataset_id}/v/{version}"


def department_name(department_id: int) -> str:
    """A department: ``department/21``."""
    return f"department/{department_id}"


def transaction_name(tx_hash: str) -> str:
    """A transaction of the chain (a registration, a batch's anchoring, a withdrawal):
    ``tx/0x…``."""
    return f"tx/{tx_hash}"


def iri(local_name: str) -> str:
    """The full IRI of a local name."""
    return NAMESPACE + local_name
