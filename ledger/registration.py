"""What a verified registration is: the data the verifier (on-chain versions) and the batched
anchoring checks (records in anchored Merkle batches) both produce. Pure data: it imports
neither, so each can build one without importing the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Registration:
    """One registration of the content hash, with everything needed to re-check it."""

    dataset_id: str
    version: int
    department_id: int
    department_key: str
    authorised_by: str  # "signature" (relayed EIP-712) or "sender" (sent by the key itself)
    signer: str  # the address that authorised it, recovered or the tx sender
    signature: str  # the department's EIP-712 signature (0x-hex), "" when sent by the key
    typed_data: dict[str, Any]  # the EIP-712 document it signed (bytes as 0x-hex), {} if none
    metadata_hash: str
    parents: list[dict[str, Any]]
    withdrawn: bool
    history_complete: bool
    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str
    block_time: int
    log_index: int
    # A batched record: root, leaf index, tree size, proof, the record and its digest; the
    # coordinates above are then those of the anchor (see ledger.anchoring.verify).
    anchor: dict[str, Any] | None = None

    @property
    def authentic(self) -> bool:
        return self.signer.lower() == self.department_key.lower() and self.history_complete
