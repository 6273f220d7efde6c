"""The dataset registry client: datasets, versions, lineage."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.types import BlockIdentifier

from ledger.chain.backend import Receipt
from ledger.chain.clients.base import SignedActionsClient, Signing
from ledger.chain.types import (
    ZERO32,
    Authorization,
    Classification,
    DatasetRecord,
    Event,
    NewVersion,
    as_bytes32,
)


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
        args = (salt, int(classification), metadata_hash, first.as_abi())
        return self._act("createDataset", args, sender)

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
        signing = Signing(signer, department_id=department_id, deadline=deadline, nonce=nonce)
        fields = {
            "salt": salt,
            "classification": int(classification),
            "metadataHash": metadata_hash,
            "contentHash": first.content_hash,
            "versionMetadataHash": first.metadata_hash,
            "parents": [p.as_typed() for p in first.parents],
        }
        return self._sign("CreateDataset", fields, signing)

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
        args = (salt, int(classification), metadata_hash, first.as_abi())
        return self._act("createDataset", args, sender, auth)

    # add version
    def add_version(
        self, dataset_id: bytes, version: NewVersion, *, sender: LocalAccount
    ) -> Receipt:
        return self._act("addVersion", (dataset_id, version.as_abi()), sender)

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
        signing = Signing(signer, department_id=department_id, deadline=deadline, nonce=nonce)
        fields = {
            "datasetId": dataset_id,
            "contentHash": version.content_hash,
            "metadataHash": version.metadata_hash,
            "parents": [p.as_typed() for p in version.parents],
        }
        return self._sign("AddVersion", fields, signing)

    def add_version_by_sig(
        self, dataset_id: bytes, version: NewVersion, *, auth: Authorization, sender: LocalAccount
    ) -> Receipt:
        return self._act("addVersion", (dataset_id, version.as_abi()), sender, auth)

    # withdraw
    def withdraw_dataset(
        self, dataset_id: bytes, reason_hash: bytes = ZERO32, *, sender: LocalAccount
    ) -> Receipt:
        return self._act("withdrawDataset", (dataset_id, reason_hash), sender)

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
        signing = Signing(signer, department_id=department_id, deadline=deadline, nonce=nonce)
        fields = {"datasetId": dataset_id, "reasonHash": reason_hash}
        return self._sign("WithdrawDataset", fields, signing)

    def withdraw_dataset_by_sig(
        self,
        dataset_id: bytes,
        reason_hash: bytes = ZERO32,
        *,
        auth: Authorization,
        sender: LocalAccount,
    ) -> Receipt:
        return self._act("withdrawDataset", (dataset_id, reason_hash), sender, auth)

    # views
    def dataset(self, dataset_id: bytes, *, block: BlockIdentifier = "latest") -> DatasetRecord:
        """The dataset as ``dataset(id)`` answers it, read from storage (no EVM run)."""
        return self.dataset_from_storage(dataset_id, self._stored("_datasets", dataset_id, block))

    @staticmethod
    def dataset_from_storage(dataset_id: bytes, stored: dict[str, Any]) -> DatasetRecord:
        """The dataset that the storage entry ``_datasets[id]`` holds (bulk readers fetch the
        entries themselves, many in one batch)."""
        return DatasetRecord(
            dataset_id=bytes(dataset_id),
            owner=stored["owner"],
            version_count=stored["versionCount"],
            classification=Classification(stored["classification"]),
            withdrawn=stored["withdrawn"],
            created_at=stored["createdAt"],
            history_head=stored["historyHead"],
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
