"""Gas limits the relayer gives each operation, without asking the node.

An ``eth_estimateGas`` per transaction was ~40% of the relayer's time per record, and it is one
more round trip per send. The contracts' costs are bounded by their inputs, so a per-function
bound with headroom does the same job: ``base`` covers the function at its worst state (first
use of a department nonce, cold storage, a 128-byte name) and ``per_parent`` each lineage entry
(a cold ``versionExists`` read, its calldata, its share of the event). ``tests/ledger/relayer/
test_gas_bounds.py`` mines every function at its worst realistic shape (64 parents, each in a
different dataset) and checks the bound holds with at least 10% to spare.

A function with no bound here (added to a contract later) is estimated instead, once per send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

#: EIP-7825 (Fusaka): no transaction may ask for more gas than this.
TX_GAS_CAP: Final = 16_777_216


@dataclass(frozen=True, slots=True)
class GasBound:
    """``base + per_parent * len(parents)`` gas, where ``parents`` sits at ``parents_at``."""

    base: int
    per_parent: int = 0
    # Where the version's parents list sits in the call's arguments: (argument, field).
    parents_at: tuple[int, int] | None = None

    def limit(self, args: list[Any]) -> int:
        parents = 0
        if self.parents_at is not None:
            argument, field = self.parents_at
            parents = len(args[argument][field])
        return min(self.base + self.per_parent * parents, TX_GAS_CAP)


_VERSION_PARENTS_PER = 5_500

#: (contract, function) → bound. Measured worst cases are in the test named above.
BOUNDS: Final[dict[tuple[str, str], GasBound]] = {
    ("DepartmentRegistry", "enrolDepartment"): GasBound(100_000),
    ("DepartmentRegistry", "rotateDepartmentKey"): GasBound(70_000),
    ("DepartmentRegistry", "suspendDepartment"): GasBound(45_000),
    ("DepartmentRegistry", "reactivateDepartment"): GasBound(45_000),
    ("DatasetRegistry", "createDatasetBySig"): GasBound(
        130_000, _VERSION_PARENTS_PER, parents_at=(3, 2)
    ),
    ("DatasetRegistry", "addVersionBySig"): GasBound(
        100_000, _VERSION_PARENTS_PER, parents_at=(1, 2)
    ),
    ("DatasetRegistry", "withdrawDatasetBySig"): GasBound(65_000),
    ("AccessRegistry", "requestAccessBySig"): GasBound(160_000),
    ("AccessRegistry", "approveAccessBySig"): GasBound(120_000),
    ("AccessRegistry", "denyAccessBySig"): GasBound(80_000),
    ("AccessRegistry", "cancelAccessRequestBySig"): GasBound(70_000),
    ("AccessRegistry", "revokeAccessBySig"): GasBound(80_000),
    ("AnchorRegistry", "anchorBatchBySig"): GasBound(105_000),
    # A department's first key of the hybrid KEM on its first signature to the directory:
    # 1,216 bytes in calldata and again in the event, two fresh slots, a fresh nonce (137k).
    ("KeyDirectory", "publishEncryptionKeyBySig"): GasBound(160_000),
}


def gas_limit(contract: str, function: str, args: list[Any]) -> int | None:
    """The gas limit for calling ``function`` on ``contract`` with ``args`` (outbox JSON form),
    or None when the function has no bound and must be estimated."""
    bound = BOUNDS.get((contract, function))
    return bound.limit(args) if bound is not None else None
