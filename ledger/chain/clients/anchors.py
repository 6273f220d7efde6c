"""The anchor registry client: Merkle batch roots and inclusion checks."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3.types import BlockIdentifier

from ledger.chain.backend import Receipt
from ledger.chain.clients.base import SignedActionsClient, Signing
from ledger.chain.types import (
    ZERO32,
    AnchorRecord,
    Authorization,
)


class AnchorRegistryClient(SignedActionsClient):
    """Merkle batch anchors."""

    artifact_name = "AnchorRegistry"
    _primary_types = ("AnchorBatch",)

    def anchor_batch(
        self, root: bytes, size: int, metadata_hash: bytes = ZERO32, *, sender: LocalAccount
    ) -> Receipt:
        return self._act("anchorBatch", (root, size, metadata_hash), sender)

    def sign_anchor_batch(
        self,
        root: bytes,
        size: int,
        metadata_hash: bytes = ZERO32,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        signing = Signing(signer, department_id=department_id, deadline=deadline, nonce=nonce)
        fields = {"root": root, "size": size, "metadataHash": metadata_hash}
        return self._sign("AnchorBatch", fields, signing)

    def anchor_batch_by_sig(
        self,
        root: bytes,
        size: int,
        metadata_hash: bytes = ZERO32,
        *,
        auth: Authorization,
        sender: LocalAccount,
    ) -> Receipt:
        return self._act("anchorBatch", (root, size, metadata_hash), sender, auth)

    def anchor(self, root: bytes, *, block: BlockIdentifier = "latest") -> AnchorRecord:
        """The anchor as ``anchor(root)`` answers it, read from storage (no EVM run)."""
        return self.anchor_from_storage(root, self._stored("_anchors", root, block))

    @staticmethod
    def anchor_from_storage(root: bytes, stored: dict[str, Any]) -> AnchorRecord:
        """The anchor that the storage entry ``_anchors[root]`` holds (bulk readers fetch the
        entries themselves, many in one batch)."""
        return AnchorRecord(
            root=bytes(root),
            department=int(stored["department"]),
            size=int(stored["size"]),
            anchored_at=int(stored["anchoredAt"]),
        )

    def verify_inclusion(self, root: bytes, index: int, record: bytes, proof: list[bytes]) -> bool:
        return bool(self._view(self.contract.functions.verifyInclusion(root, index, record, proof)))
