"""Who may read what: one rule, applied by every endpoint that shows ledger data.

**What the chain records is readable by every principal.** Department, dataset and
access-request ids, owners, classifications, statuses, versions with their content and metadata
hashes, lineage edges, grants and expiries are on every node of the consortium and at ``/rpc``;
hiding them in this API would protect nothing and would make the API disagree with the chain an
auditor reads. Where the service serves the chain to anyone (``/rpc`` open), the reads that
show these facts serve a caller without a token too, as the anonymous principal
(:data:`~ledger.service.principal.ANONYMOUS`).

**What only this service holds is need-to-know**: metadata documents (title, description…),
the text of purposes and reasons, and batched records, which are on chain only as a Merkle root
(their ids, hashes and lineage are known to this service and to holders of their proof
bundles). These are shown to governance, auditors, the owning department, a requester for its
own request, and to any department for public and internal datasets or while it holds a live
grant; never to the anonymous reader, whatever the classification (a need to know needs a
token). A grant must appear in the index *and* be live on the chain right now: the index alone
may lag a revocation, and a revocation takes effect the moment it is mined.

A dataset a caller may not read at all (a batched dataset it has no need to know) is answered
404 like a missing one, never listed, and left out of lineage answers.
"""

from __future__ import annotations

import time

from sqlmodel import Session, select

from ledger.index.models import IndexAccessRequest, IndexDataset
from ledger.runtime import Runtime
from ledger.service.principal import Principal, PrincipalKind

#: Classifications whose off-chain content every department may read.
OPEN_CLASSIFICATIONS = ("public", "internal")


def sees_everything(principal: Principal) -> bool:
    """Governance and auditors read everything."""
    return principal.kind in (PrincipalKind.GOVERNANCE, PrincipalKind.AUDITOR)


def may_read_content(
    session: Session, runtime: Runtime, principal: Principal, dataset: IndexDataset
) -> bool:
    """Whether ``principal`` may read what only this service holds about ``dataset``."""
    if sees_everything(principal):
        return True
    if principal.kind is PrincipalKind.PUBLIC:
        return False
    if dataset.owner == principal.department_id or dataset.classification in OPEN_CLASSIFICATIONS:
        return True
    if principal.department_id is None:
        return False
    grant = session.exec(
        select(IndexAccessRequest).where(
            IndexAccessRequest.dataset_id == dataset.dataset_id,
            IndexAccessRequest.requester == principal.department_id,
            IndexAccessRequest.status == "approved",
        )
    ).first()
    if grant is None or (grant.expires_at or 0) <= time.time():
        return False
    return runtime.ledger.access.has_access(
        bytes.fromhex(dataset.dataset_id[2:]), principal.department_id
    )


def may_read(
    session: Session, runtime: Runtime, principal: Principal, dataset: IndexDataset
) -> bool:
    """Whether ``dataset`` exists for ``principal`` at all: always if it is on chain, else
    (a batched dataset) only with a need to know."""
    return dataset.anchoring == "chain" or may_read_content(session, runtime, principal, dataset)
