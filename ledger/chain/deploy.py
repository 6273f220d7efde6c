"""Deploying the four contracts and holding a connection to a deployment."""

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
)
from ledger.errors import ChainMismatchError, InvalidInputError


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment:
    """Where the contracts live: chain id, addresses, and the block the deployment began at
    (where an indexer starts reading events)."""

    chain_id: int
    department_registry: str
    dataset_registry: str
    access_registry: str
    anchor_registry: str
    start_block: int
    gas_used: dict[str, int] = field(default_factory=dict, compare=False)  # of this deploy run

    def to_json(self) -> str:
        return json.dumps(
            {
                "chain_id": self.chain_id,
                "department_registry": self.department_registry,
                "dataset_registry": self.dataset_registry,
                "access_registry": self.access_registry,
                "anchor_registry": self.anchor_registry,
                "start_block": self.start_block,
            },
            indent=2,
        )

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
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"not a provledger deployment record: {exc}") from exc


class Ledger:
    """The four contract clients of one deployment, on one chain."""

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

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        deployer: LocalAccount,
        *,
        admin: str | None = None,
        admin_transfer_delay: int = 0,
    ) -> Ledger:
        """Deploy all four contracts from ``deployer``; ``admin`` (default: the deployer) gets
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
        deployment = Deployment(
            chain_id=chain.chain_id,
            department_registry=registry,
            dataset_registry=datasets,
            access_registry=access,
            anchor_registry=anchors,
            start_block=start_block,
            gas_used=gas,
        )
        return cls(chain, deployment)
