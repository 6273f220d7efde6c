"""Proof of who could read what, when: an offline bundle saying whether a department held a
grant to a dataset at a time, and its check against any node.

Trust preconditions: the checker trusts the node it checks against to serve the chain it
names (any node of the consortium; a second one cross-checks), and the access registry's
address (``--contract`` pins it; otherwise the bundle's is taken). Nothing here reads
provledger's database or API.

A bundle holds, for every request department B made for dataset D up to a block N whose time
is at or after T: each of the request's events (tx hash, block number, hash and time, log
index, decoded data) and the request's ``historyHead`` and ``eventCount`` as the contract
stored them at block N. The contract extends a request's head with every event it emits
(``IAccessRegistry.AccessRequest.historyHead``), so the events re-hashed must end at the stored
head: a node, or whoever built the bundle, that withholds a revocation ends the chain
elsewhere. The verdict is recomputed from the events alone, with the rule the service's
``grants_at`` uses: held at T if a request of B was approved in a block of time at or before T,
T is before its expiry, and it was not revoked nor superseded in a block of time at or before
T. Like a grant's terms, that leaves out the two things ``hasAccess`` also asks of the moment
it is asked: the dataset not withdrawn and the department active.

What the check cannot see: a node that withholds *every* log of a request that is no longer
the department's live grant (it never shows the request at all) is caught only if the checker's
node shows it (the set of requests is compared with the checker's own ``eth_getLogs``; the live
grant is read from state, ``_liveGrants``, which no node can withhold); check against a node you
trust, or two.
"""

from ledger.access_proof.bundle import (
    BUNDLE_FORMAT,
    AccessProof,
    AccessVerdict,
    Grant,
    RequestEvent,
    RequestHistory,
    history_head,
    history_step,
    verdict_at,
)
from ledger.access_proof.node import check_access_proof, prove_access

__all__ = [
    "BUNDLE_FORMAT",
    "AccessProof",
    "AccessVerdict",
    "Grant",
    "RequestEvent",
    "RequestHistory",
    "check_access_proof",
    "history_head",
    "history_step",
    "prove_access",
    "verdict_at",
]
