"""The access registry client: requests and grants."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.types import BlockIdentifier

from ledger.chain.backend import Receipt
from ledger.chain.clients.base import SignedActionsClient, Signing
from ledger.chain.storage import value_slot
from ledger.chain.types import (
    ZERO32,
    AccessRequestRecord,
    Authorization,
    RequestStatus,
    as_bytes32,
)


class AccessRegistryClient(SignedActionsClient):
    """Access requests and grants."""

    artifact_name = "AccessRegistry"
    _primary_types = (
        "RequestAccess",
        "ApproveAccess",
        "DenyAccess",
        "CancelAccessRequest",
        "RevokeAccess",
    )

    @staticmethod
    def request_id_of(department_id: int, salt: bytes) -> bytes:
        return keccak(abi_encode(["uint64", "bytes32"], [department_id, as_bytes32(salt, "salt")]))

    def request_access(
        self,
        salt: bytes,
        dataset_id: bytes,
        purpose_hash: bytes,
        requested_duration: int,
        *,
        sender: LocalAccount,
    ) -> Receipt:
        args = (salt, dataset_id, purpose_hash, requested_duration)
        return self._act("requestAccess", args, sender)

    def sign_request_access(
        self,
        salt: bytes,
        dataset_id: bytes,
        purpose_hash: bytes,
        requested_duration: int,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        signing = Signing(signer, department_id=department_id, deadline=deadline, nonce=nonce)
        fields = {
            "salt": salt,
            "datasetId": dataset_id,
            "purposeHash": purpose_hash,
            "requestedDuration": requested_duration,
        }
        return self._sign("RequestAccess", fields, signing)

    def request_access_by_sig(
        self,
        salt: bytes,
        dataset_id: bytes,
        purpose_hash: bytes,
        requested_duration: int,
        *,
        auth: Authorization,
        sender: LocalAccount,
    ) -> Receipt:
        args = (salt, dataset_id, purpose_hash, requested_duration)
        return self._act("requestAccess", args, sender, auth)

    def approve_access(
        self, request_id: bytes, expires_at: int, *, sender: LocalAccount
    ) -> Receipt:
        return self._act("approveAccess", (request_id, expires_at), sender)

    def sign_approve_access(
        self,
        request_id: bytes,
        expires_at: int,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        signing = Signing(signer, department_id=department_id, deadline=deadline, nonce=nonce)
        fields = {"requestId": request_id, "expiresAt": expires_at}
        return self._sign("ApproveAccess", fields, signing)

    def approve_access_by_sig(
        self, request_id: bytes, expires_at: int, *, auth: Authorization, sender: LocalAccount
    ) -> Receipt:
        return self._act("approveAccess", (request_id, expires_at), sender, auth)

    def deny_access(
        self, request_id: bytes, reason_hash: bytes = ZERO32, *, sender: LocalAccount
    ) -> Receipt:
        return self._act("denyAccess", (request_id, reason_hash), sender)

    def sign_deny_access(
        self,
        request_id: bytes,
        reason_hash: bytes = ZERO32,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        signing = Signing(signer, department_id=department_id, deadline=deadline, nonce=nonce)
        fields = {"requestId": request_id, "reasonHash": reason_hash}
        return self._sign("DenyAccess", fields, signing)

    def deny_access_by_sig(
        self,
        request_id: bytes,
        reason_hash: bytes = ZERO32,
        *,
        auth: Authorization,
        sender: LocalAccount,
    ) -> Receipt:
        return self._act("denyAccess", (request_id, reason_hash), sender, auth)

    def cancel_access_request(self, request_id: bytes, *, sender: LocalAccount) -> Receipt:
        return self._act("cancelAccessRequest", (request_id,), sender)

    def sign_cancel_access_request(
        self,
        request_id: bytes,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        signing = Signing(signer, department_id=department_id, deadline=deadline, nonce=nonce)
        return self._sign("CancelAccessRequest", {"requestId": request_id}, signing)

    def cancel_access_request_by_sig(
        self, request_id: bytes, *, auth: Authorization, sender: LocalAccount
    ) -> Receipt:
        return self._act("cancelAccessRequest", (request_id,), sender, auth)

    def revoke_access(
        self, request_id: bytes, reason_hash: bytes = ZERO32, *, sender: LocalAccount
    ) -> Receipt:
        return self._act("revokeAccess", (request_id, reason_hash), sender)

    def sign_revoke_access(
        self,
        request_id: bytes,
        reason_hash: bytes = ZERO32,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        signing = Signing(signer, department_id=department_id, deadline=deadline, nonce=nonce)
        fields = {"requestId": request_id, "reasonHash": reason_hash}
        return self._sign("RevokeAccess", fields, signing)

    def revoke_access_by_sig(
        self,
        request_id: bytes,
        reason_hash: bytes = ZERO32,
        *,
        auth: Authorization,
        sender: LocalAccount,
    ) -> Receipt:
        return self._act("revokeAccess", (request_id, reason_hash), sender, auth)

    def access_request(
        self, request_id: bytes, *, block: BlockIdentifier = "latest"
    ) -> AccessRequestRecord:
        """The request as ``accessRequest`` answers it at ``block``, read from storage (no EVM
        run; any node answers ``eth_getStorageAt`` at a block it keeps state for). A registry
        deployed before requests kept a history reads with a zero head and count: its struct's
        first members sit where they always did."""
        return self.request_from_storage(request_id, self._stored("_requests", request_id, block))

    def live_grant(
        self, dataset_id: bytes, department_id: int, *, block: BlockIdentifier = "latest"
    ) -> bytes:
        """The request id of the department's live grant to the dataset at ``block`` (zero if
        none: never granted, or revoked), read from storage (``_liveGrants``)."""
        slot = value_slot(self._storage_layout, "_liveGrants", dataset_id, department_id)
        return self.chain.storage_at(self.address, slot, block)

    @staticmethod
    def request_from_storage(request_id: bytes, stored: dict[str, Any]) -> AccessRequestRecord:
        """The request that the storage entry ``_requests[id]`` holds (bulk readers fetch the
        slots themselves)."""
        return AccessRequestRecord(
            request_id=bytes(request_id),
            dataset_id=bytes(stored["datasetId"]),
            requester=int(stored["requester"]),
            status=RequestStatus(int(stored["status"])),
            requested_duration=int(stored["requestedDuration"]),
            expires_at=int(stored["expiresAt"]),
            event_count=int(stored["eventCount"]),
            history_head=bytes(stored["historyHead"]),
        )

    def access_history(
        self, request_id: bytes, *, block: BlockIdentifier = "latest"
    ) -> tuple[bytes, int]:
        """The contract's ``accessHistory(requestId)`` at ``block``: (history head, events)."""
        fn = self.contract.functions.accessHistory(request_id)
        head, count = self.chain.call(lambda: fn.call(block_identifier=block))
        return bytes(head), int(count)

    def has_access(
        self, dataset_id: bytes, department_id: int, *, block: BlockIdentifier = "latest"
    ) -> bool:
        """The contract's answer at ``block`` (any past block on an archive node)."""
        fn = self.contract.functions.hasAccess(dataset_id, department_id)
        return bool(self.chain.call(lambda: fn.call(block_identifier=block)))
