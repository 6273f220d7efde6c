"""Batched anchoring: many registrations of one department proven by one anchored Merkle root.

* :mod:`ledger.anchoring.records` — what a batched record is and the digest its leaf commits to
  (pure: standard library only);
* :mod:`ledger.anchoring.models` — the service's tables of queued records and anchored batches;
* :mod:`ledger.anchoring.queue` — turning a department's registration into a queued record;
* :mod:`ledger.anchoring.batcher` — flushing queued records into signed anchor transactions.

Nothing is re-exported here, so importing the pure record format pulls in no SQL.
"""
