"""The SQL index of the ledger's chain events: a rebuildable, reorg-aware cache (design §1).

:class:`Indexer` fills the ``index_*`` tables from the contracts' events;
:mod:`ledger.index.models` describes the tables; :mod:`ledger.index.projections` turns events
into the current state of departments, datasets, versions, grants and anchors.
"""

from ledger.index.indexer import Indexer, Reorg, SyncReport

__all__ = ["Indexer", "Reorg", "SyncReport"]
