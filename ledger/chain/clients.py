"""Typed clients for the four contracts: one Python method per contract function.

Each department action comes in three forms: ``x(..., sender=key)`` sent by the department's
own key; ``sign_x(..., signer=key, department_id=…, deadline=…)`` producing an
:class:`Authorization`; and ``x_by_sig(..., auth=…, sender=relayer)`` submitting it.
Reverts arrive as :mod:`ledger.errors` classes (``DatasetNotOwnerError``…).
"""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3._utils.events import get_event_data
from web3.types import BlockIdentifier

from ledger.artifacts import load_artifact
from ledger.chain.backend import Chain, Receipt
from ledger.chain.types import (
    ZERO32,
    AccessRequestRecord,
    AnchorRecord,
    Authorization,
    Classification,
    DatasetRecord,
    DepartmentRecord,
    DepartmentStatus,
    Event,
    NewVersion,
    RequestStatus,
    as_bytes32,
)
from ledger.eip712 import ACTION_DOMAINS, Domain, TypedAction


class ContractClient:
    """Common plumbing: the web3 contract object, calls, transactions and event decoding."""

    artifact_name = ""

    def __init__(self, chain: Chain, address: str):
        self.chain = chain
        self.address = chain.w3.to_checksum_address(address)
        artifact = load_artifact(self.artifact_name)
        self.contract = chain.w3.eth.contract(address=self.address, abi=artifact.abi)
        self._events = {
            keccak(text=f"{e['name']}({','.join(_abi_type(i) for i in e['inputs'])})"): e
            for e in artifact.abi
            if e["type"] == "event"
        }

    def _send(self, function: Any, sender: LocalAccount) -> Receipt:
        return self.chain.transact(function, sender)

    def _view(self, function: Any) -> Any:
        return self.chain.call(lambda: function.call())

    def decode_events(self, logs: Any) -> list[Event]:
        """This contract's events among ``logs`` (a receipt's logs or ``eth_getLogs`` results)."""
        decoded = []
        for log in logs:
            if log["address"] != self.address or not log["topics"]:
                continue
            abi = self._events.get(bytes(log["topics"][0]))
            if abi is None:
                continue
            data = get_event_data(self.chain.w3.codec, abi, log)
            decoded.append(
                Event(
                    name=data["event"],
                    args=dict(data["args"]),
                    address=self.address,
                    tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
                    block_number=log["blockNumber"],
                    block_hash=HexBytes(log["blockHash"]).to_0x_hex(),
                    log_index=log["logIndex"],
                )
            )
        return decoded


def _abi_type(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + kind[5:]
    return kind


class SignedActionsClient(ContractClient):
    """A contract that accepts department actions by EIP-712 signature."""

    @property
    def domain(self) -> Domain:
        return Domain(
            name=ACTION_DOMAINS[self._primary_types[0]],
            chain_id=self.chain.chain_id,
            verifying_contract=self.address,
        )

    _primary_types: tuple[str, ...] = ()

    def department_nonce(self, department_id: int) -> int:
        """The nonce the next signature of ``department_id`` on this contract must carry."""
        return int(self._view(self.contract.functions.departmentNonce(department_id)))

    def typed_action(
        self,
        primary_type: str,
        fields: dict[str, Any],
        *,
        department_id: int,
        nonce: int,
        deadline: int,
    ) -> TypedAction:
        """The typed data a department signs for ``primary_type`` on this contract."""
        message = {"departmentId": department_id, **fields, "nonce": nonce, "deadline": deadline}
        return TypedAction(primary_type=primary_type, domain=self.domain, message=message)

    def _sign(
        self,
        primary_type: str,
        fields: dict[str, Any],
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None,
    ) -> Authorization:
        if nonce is None:
            nonce = self.department_nonce(department_id)
        action = self.typed_action(
            primary_type, fields, department_id=department_id, nonce=nonce, deadline=deadline
        )
        return Authorization(
            department_id=department_id,
            nonce=nonce,
            deadline=deadline,
            signature=action.sign(signer),
        )


class DepartmentRegistryClient(ContractClient):
    """Governance's roll of departments and the pause switch."""

    artifact_name = "DepartmentRegistry"
    GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")
    PAUSER_ROLE = keccak(text="PAUSER_ROLE")

    def enrol_department(
        self, department_id: int, name: str, signer: str, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(
            self.contract.functions.enrolDepartment(department_id, name, signer), sender
        )

    def rotate_department_key(
        self, department_id: int, new_signer: str, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(
            self.contract.functions.rotateDepartmentKey(department_id, new_signer), sender
        )

    def suspend_department(
        self, department_id: int, reason_hash: bytes = ZERO32, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(
            self.contract.functions.suspendDepartment(
                department_id, as_bytes32(reason_hash, "reason hash")
            ),
            sender,
        )

    def reactivate_department(self, department_id: int, *, sender: LocalAccount) -> Receipt:
        return self._send(self.contract.functions.reactivateDepartment(department_id), sender)

    def pause(self, *, sender: LocalAccount) -> Receipt:
        return self._send(self.contract.functions.pause(), sender)

    def unpause(self, *, sender: LocalAccount) -> Receipt:
        return self._send(self.contract.functions.unpause(), sender)

    def grant_role(self, role: bytes, account: str, *, sender: LocalAccount) -> Receipt:
        return self._send(self.contract.functions.grantRole(role, account), sender)

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self._view(self.contract.functions.hasRole(role, account)))

    def paused(self) -> bool:
        return bool(self._view(self.contract.functions.paused()))

    def department(self, department_id: int) -> DepartmentRecord:
        signer, status, enrolled_at = self._view(self.contract.functions.department(department_id))
        return DepartmentRecord(
            department_id=department_id,
            signer=signer,
            status=DepartmentStatus(status),
            enrolled_at=enrolled_at,
        )

    def department_of(self, account: str) -> int:
        return int(self._view(self.contract.functions.departmentOf(account)))

    def is_active(self, department_id: int) -> bool:
        return bool(self._view(self.contract.functions.isActive(department_id)))


class DatasetRegistryClient(SignedActionsClient):
    """Datasets, versions, lineage."""

    artifact_name = "DatasetRegistry"
    _primary_types = ("CreateDataset", "AddVersion", "WithdrawDataset")

    @staticmethod
    def dataset_id_of(department_id: int, salt: bytes) -> bytes:
        """The id ``createDataset`` assigns; computed locally, equal to the contract's."""
        return keccak(abi_encode(["uint64", "bytes32"], [department_id, as_bytes32(salt, "salt")]))

    # create
    def create_dataset(
        self,
        salt: bytes,
        classification: Classification,
        metadata_hash: bytes,
        first: NewVersion,
        *,
        sender: LocalAccount,
    ) -> Receipt:
        fn = self.contract.functions.createDataset(
            salt, int(classification), metadata_hash, first.as_abi()
        )
        return self._send(fn, sender)

    def sign_create_dataset(
        self,
        salt: bytes,
        classification: Classification,
        metadata_hash: bytes,
        first: NewVersion,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        fields = {
            "salt": salt,
            "classification": int(classification),
            "metadataHash": metadata_hash,
            "contentHash": first.content_hash,
            "versionMetadataHash": first.metadata_hash,
            "parents": [p.as_typed() for p in first.parents],
        }
        return self._sign(
            "CreateDataset",
            fields,
            signer=signer,
            department_id=department_id,
            deadline=deadline,
            nonce=nonce,
        )

    def create_dataset_by_sig(
        self,
        salt: bytes,
        classification: Classification,
        metadata_hash: bytes,
        first: NewVersion,
        *,
        auth: Authorization,
        sender: LocalAccount,
    ) -> Receipt:
        fn = self.contract.functions.createDatasetBySig(
            salt, int(classification), metadata_hash, first.as_abi(), auth.as_abi()
        )
        return self._send(fn, sender)

    # add version
    def add_version(
        self, dataset_id: bytes, version: NewVersion, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(self.contract.functions.addVersion(dataset_id, version.as_abi()), sender)

    def sign_add_version(
        self,
        dataset_id: bytes,
        version: NewVersion,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        fields = {
            "datasetId": dataset_id,
            "contentHash": version.content_hash,
            "metadataHash": version.metadata_hash,
            "parents": [p.as_typed() for p in version.parents],
        }
        return self._sign(
            "AddVersion",
            fields,
            signer=signer,
            department_id=department_id,
            deadline=deadline,
            nonce=nonce,
        )

    def add_version_by_sig(
        self, dataset_id: bytes, version: NewVersion, *, auth: Authorization, sender: LocalAccount
    ) -> Receipt:
        fn = self.contract.functions.addVersionBySig(dataset_id, version.as_abi(), auth.as_abi())
        return self._send(fn, sender)

    # withdraw
    def withdraw_dataset(
        self, dataset_id: bytes, reason_hash: bytes = ZERO32, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(self.contract.functions.withdrawDataset(dataset_id, reason_hash), sender)

    def sign_withdraw_dataset(
        self,
        dataset_id: bytes,
        reason_hash: bytes = ZERO32,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        fields = {"datasetId": dataset_id, "reasonHash": reason_hash}
        return self._sign(
            "WithdrawDataset",
            fields,
            signer=signer,
            department_id=department_id,
            deadline=deadline,
            nonce=nonce,
        )

    def withdraw_dataset_by_sig(
        self,
        dataset_id: bytes,
        reason_hash: bytes = ZERO32,
        *,
        auth: Authorization,
        sender: LocalAccount,
    ) -> Receipt:
        return self._send(
            self.contract.functions.withdrawDatasetBySig(dataset_id, reason_hash, auth.as_abi()),
            sender,
        )

    # views
    def dataset(self, dataset_id: bytes) -> DatasetRecord:
        owner, count, classification, withdrawn, created_at, head = self._view(
            self.contract.functions.dataset(dataset_id)
        )
        return DatasetRecord(
            dataset_id=bytes(dataset_id),
            owner=owner,
            version_count=count,
            classification=Classification(classification),
            withdrawn=withdrawn,
            created_at=created_at,
            history_head=bytes(head),
        )

    def registrations_of(self, content_hash: bytes, *, from_block: int = 0) -> list[Event]:
        """Every ``VersionAdded`` of ``content_hash``, earliest first, read from the chain's logs
        by the indexed content-hash topic: no index or server of ours is involved."""
        topic0 = (
            "0x"
            + keccak(
                text="VersionAdded(bytes32,bytes32,uint64,uint32,bytes32,(bytes32,uint32)[],bytes32)"
            ).hex()
        )
        topic2 = "0x" + as_bytes32(content_hash, "content hash").hex()
        logs = self.chain.call(
            lambda: self.chain.w3.eth.get_logs(
                {
                    "address": self.address,
                    "fromBlock": from_block,
                    "toBlock": "latest",
                    "topics": [topic0, None, topic2],
                }
            )
        )
        return sorted(self.decode_events(logs), key=lambda e: (e.block_number, e.log_index))

    def version_exists(self, dataset_id: bytes, version: int) -> bool:
        return bool(self._view(self.contract.functions.versionExists((dataset_id, version))))


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
        fn = self.contract.functions.requestAccess(
            salt, dataset_id, purpose_hash, requested_duration
        )
        return self._send(fn, sender)

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
        fields = {
            "salt": salt,
            "datasetId": dataset_id,
            "purposeHash": purpose_hash,
            "requestedDuration": requested_duration,
        }
        return self._sign(
            "RequestAccess",
            fields,
            signer=signer,
            department_id=department_id,
            deadline=deadline,
            nonce=nonce,
        )

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
        fn = self.contract.functions.requestAccessBySig(
            salt, dataset_id, purpose_hash, requested_duration, auth.as_abi()
        )
        return self._send(fn, sender)

    def approve_access(
        self, request_id: bytes, expires_at: int, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(self.contract.functions.approveAccess(request_id, expires_at), sender)

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
        fields = {"requestId": request_id, "expiresAt": expires_at}
        return self._sign(
            "ApproveAccess",
            fields,
            signer=signer,
            department_id=department_id,
            deadline=deadline,
            nonce=nonce,
        )

    def approve_access_by_sig(
        self, request_id: bytes, expires_at: int, *, auth: Authorization, sender: LocalAccount
    ) -> Receipt:
        return self._send(
            self.contract.functions.approveAccessBySig(request_id, expires_at, auth.as_abi()),
            sender,
        )

    def deny_access(
        self, request_id: bytes, reason_hash: bytes = ZERO32, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(self.contract.functions.denyAccess(request_id, reason_hash), sender)

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
        fields = {"requestId": request_id, "reasonHash": reason_hash}
        return self._sign(
            "DenyAccess",
            fields,
            signer=signer,
            department_id=department_id,
            deadline=deadline,
            nonce=nonce,
        )

    def deny_access_by_sig(
        self,
        request_id: bytes,
        reason_hash: bytes = ZERO32,
        *,
        auth: Authorization,
        sender: LocalAccount,
    ) -> Receipt:
        return self._send(
            self.contract.functions.denyAccessBySig(request_id, reason_hash, auth.as_abi()), sender
        )

    def cancel_access_request(self, request_id: bytes, *, sender: LocalAccount) -> Receipt:
        return self._send(self.contract.functions.cancelAccessRequest(request_id), sender)

    def sign_cancel_access_request(
        self,
        request_id: bytes,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        return self._sign(
            "CancelAccessRequest",
            {"requestId": request_id},
            signer=signer,
            department_id=department_id,
            deadline=deadline,
            nonce=nonce,
        )

    def cancel_access_request_by_sig(
        self, request_id: bytes, *, auth: Authorization, sender: LocalAccount
    ) -> Receipt:
        return self._send(
            self.contract.functions.cancelAccessRequestBySig(request_id, auth.as_abi()), sender
        )

    def revoke_access(
        self, request_id: bytes, reason_hash: bytes = ZERO32, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(self.contract.functions.revokeAccess(request_id, reason_hash), sender)

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
        fields = {"requestId": request_id, "reasonHash": reason_hash}
        return self._sign(
            "RevokeAccess",
            fields,
            signer=signer,
            department_id=department_id,
            deadline=deadline,
            nonce=nonce,
        )

    def revoke_access_by_sig(
        self,
        request_id: bytes,
        reason_hash: bytes = ZERO32,
        *,
        auth: Authorization,
        sender: LocalAccount,
    ) -> Receipt:
        return self._send(
            self.contract.functions.revokeAccessBySig(request_id, reason_hash, auth.as_abi()),
            sender,
        )

    def access_request(self, request_id: bytes) -> AccessRequestRecord:
        dataset_id, requester, status, duration, expires_at = self._view(
            self.contract.functions.accessRequest(request_id)
        )
        return AccessRequestRecord(
            request_id=bytes(request_id),
            dataset_id=bytes(dataset_id),
            requester=requester,
            status=RequestStatus(status),
            requested_duration=duration,
            expires_at=expires_at,
        )

    def has_access(
        self, dataset_id: bytes, department_id: int, *, block: BlockIdentifier = "latest"
    ) -> bool:
        """The contract's answer at ``block`` (any past block on an archive node)."""
        fn = self.contract.functions.hasAccess(dataset_id, department_id)
        return bool(self.chain.call(lambda: fn.call(block_identifier=block)))


class AnchorRegistryClient(SignedActionsClient):
    """Merkle batch anchors."""

    artifact_name = "AnchorRegistry"
    _primary_types = ("AnchorBatch",)

    def anchor_batch(
        self, root: bytes, size: int, metadata_hash: bytes = ZERO32, *, sender: LocalAccount
    ) -> Receipt:
        return self._send(self.contract.functions.anchorBatch(root, size, metadata_hash), sender)

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
        fields = {"root": root, "size": size, "metadataHash": metadata_hash}
        return self._sign(
            "AnchorBatch",
            fields,
            signer=signer,
            department_id=department_id,
            deadline=deadline,
            nonce=nonce,
        )

    def anchor_batch_by_sig(
        self,
        root: bytes,
        size: int,
        metadata_hash: bytes = ZERO32,
        *,
        auth: Authorization,
        sender: LocalAccount,
    ) -> Receipt:
        return self._send(
            self.contract.functions.anchorBatchBySig(root, size, metadata_hash, auth.as_abi()),
            sender,
        )

    def anchor(self, root: bytes) -> AnchorRecord:
        department, size, anchored_at = self._view(self.contract.functions.anchor(root))
        return AnchorRecord(
            root=bytes(root), department=department, size=size, anchored_at=anchored_at
        )

    def verify_inclusion(self, root: bytes, index: int, record: bytes, proof: list[bytes]) -> bool:
        return bool(self._view(self.contract.functions.verifyInclusion(root, index, record, proof)))
