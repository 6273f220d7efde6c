"""Deploying the contracts and holding a connection to a deployment."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.artifacts import load_artifact
from ledger.chain.backend import Chain
from ledger.chain.clients import (
    AccessRegistryClient,
    AnchorRegistryClient,
    DatasetRegistryClient,
    DepartmentRegistryClient,
    KeyDirectoryClient,
)
from ledger.errors import ChainMismatchError, DeploymentTooOldError, InvalidInputError


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment:
    """Where the contracts live: chain id, addresses, and the block the deployment began at
    (where an indexer starts reading events).

    ``key_directory`` is None in records written before the key directory existed (issue 13):
    such a deployment still serves everything else, and only the encryption-key features refuse
    (see :attr:`Ledger.keys`).
    """

    chain_id: int
    department_registry: str
    dataset_registry: str
    access_registry: str
    anchor_registry: str
    start_block: int
    key_directory: str | None = None
    gas_used: dict[str, int] = field(default_factory=dict, compare=False)  # of this deploy run

    def to_json(self) -> str:
        document: dict[str, Any] = {
            "chain_id": self.chain_id,
            "department_registry": self.department_registry,
            "dataset_registry": self.dataset_registry,
            "access_registry": self.access_registry,
            "anchor_registry": self.anchor_registry,
        }
        if self.key_directory is not None:  # an older record stays byte-for-byte as it was
            document["key_directory"] = self.key_directory
        document["start_block"] = self.start_block
        return json.dumps(document, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        try:
            document: dict[str, Any] = json.loads(text)
            return cls(
                chain_id=int(document["chain_id"]),
                department_registry=str(document["department_registry"]),
                dataset_registry=str(document["dataset_registry"]),
                access_registry=str(document["access_registry"]),
                anchor_registry=str(document["anchor_registry"]),
                start_block=int(document["start_block"]),
                key_directory=_optional_address(document.get("key_directory")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"not a provledger deployment record: {exc}") from exc


def _optional_address(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"an address is text, got {type(value).__name__}")
    return value


class Ledger:
    """The contract clients of one deployment, on one chain."""

    def __init__(self, chain: Chain, deployment: Deployment):
        if chain.chain_id != deployment.chain_id:
            raise ChainMismatchError(
                f"deployment is for chain {deployment.chain_id}, "
                f"connected to chain {chain.chain_id}"
            )
        self.chain = chain
        self.deployment = deployment
        self.departments = DepartmentRegistryClient(chain, deployment.department_registry)
        self.datasets = DatasetRegistryClient(chain, deployment.dataset_registry)
        self.access = AccessRegistryClient(chain, deployment.access_registry)
        self.anchors = AnchorRegistryClient(chain, deployment.anchor_registry)
        self._keys = (
            None
            if deployment.key_directory is None
            else KeyDirectoryClient(chain, deployment.key_directory)
        )

    @property
    def keys(self) -> KeyDirectoryClient:
        """The key directory (departments' encryption keys); refused, saying why, when the
        deployment predates it."""
        if self._keys is None:
            raise DeploymentTooOldError(
                "this deployment predates the key directory (issue 13): its record has no "
                "key_directory address, so departments' encryption keys are not available"
            )
        return self._keys

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        deployer: LocalAccount,
        *,
        admin: str | None = None,
        admin_transfer_delay: int = 0,
    ) -> Ledger:
        """Deploy every contract from ``deployer``; ``admin`` (default: the deployer) gets
        the default-admin, governor and pauser roles."""
        admin = admin or deployer.address
        start_block = chain.w3.eth.block_number
        gas: dict[str, int] = {}

        def _deploy(name: str, *args: Any) -> str:
            artifact = load_artifact(name)
            receipt = chain.deploy(artifact.bytecode, artifact.abi, args, deployer)
            gas[name] = receipt.gas_used
            assert receipt.contract_address is not None
            return receipt.contract_address

        registry = _deploy("DepartmentRegistry", admin, admin_transfer_delay)
        datasets = _deploy("DatasetRegistry", registry)
        access = _deploy("AccessRegistry", registry, datasets)
        anchors = _deploy("AnchorRegistry", registry)
        keys = _deploy("KeyDirectory", registry)
        deployment = Deployment(
            chain_id=chain.chain_id,
            department_registry=registry,
            dataset_registry=datasets,
            access_registry=access,
            anchor_registry=anchors,
            key_directory=keys,
            start_block=start_block,
            gas_used=gas,
        )
        return cls(chain, deployment)
