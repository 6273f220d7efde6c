"""The README's first-run demo: the whole ledger core on a local chain, in one go.

Deploys the contracts, enrols a department whose key lives in an encrypted keystore, registers
a file by EIP-712 signature submitted by a relayer, then verifies the file the way an auditor
would — from the chain's logs and views alone — and shows that a modified copy does not match.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from contextlib import ExitStack
from pathlib import Path

from eth_account import Account
from rich.console import Console
from rich.table import Table

from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, NewVersion
from ledger.hashing import metadata_commitment, sha256_file
from ledger.keys import Keystore


def run_demo(file: Path, *, chain_kind: str, console: Console) -> None:
    with ExitStack() as stack:
        if chain_kind == "anvil":
            from ledger.chain.anvil import AnvilNode

            node = stack.enter_context(AnvilNode())
            chain = Chain.rpc(node.url, expected_chain_id=node.chain_id)
            console.print(f"started anvil on {node.url} (chain id {chain.chain_id})")
        else:
            chain = Chain.eth_tester()
            console.print(f"started an in-process py-evm chain (chain id {chain.chain_id})")

        governance, relayer = Account.create(), Account.create()
        for account in (governance, relayer):
            chain.fund(account.address, 10**20)
        ledger = Ledger.deploy(chain, governance)
        console.print(f"deployed contracts; datasets at {ledger.deployment.dataset_registry}")

        keys_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="provledger-keys-")))
        passphrase = secrets.token_urlsafe(16)
        keystore = Keystore(keys_dir)
        signer_address = keystore.create(1, passphrase)
        ledger.departments.enrol_department(
            1, "Department of Health", signer_address, sender=governance
        )
        console.print(f"enrolled department 1 with key {signer_address} (encrypted keystore)")

        content_hash = sha256_file(file)
        metadata = {"title": file.name, "licence": "OGL-UK-3.0", "source_system": "demo"}
        department_key = keystore.unlock(1, passphrase)
        metadata_hash = bytes(metadata_commitment(metadata))
        # The department signs the dataset and the relayer sends it: the same arguments twice,
        # or the contract would not recover the department's key from the signature.
        dataset = (
            os.urandom(32),  # salt
            Classification.INTERNAL,
            metadata_hash,
            NewVersion(bytes(content_hash), metadata_hash),
        )
        auth = ledger.datasets.sign_create_dataset(
            *dataset, signer=department_key, department_id=1, deadline=chain.block_time() + 600
        )
        receipt = ledger.datasets.create_dataset_by_sig(*dataset, auth=auth, sender=relayer)
        console.print(
            f"registered {file.name} ({content_hash}) by signature, "
            f"relayed in block {receipt.block_number}, "
            f"{receipt.gas_used:,} gas"
        )

        _verify(ledger, file, console)
        tampered = (
            Path(stack.enter_context(tempfile.TemporaryDirectory())) / f"modified-{file.name}"
        )
        tampered.write_bytes(file.read_bytes() + b"\n")
        _verify(ledger, tampered, console)


def _verify(ledger: Ledger, file: Path, console: Console) -> None:
    """What an auditor does: hash the bytes, look the hash up in the chain's logs, check the
    registering department's key and status with contract views."""
    content_hash = sha256_file(file)
    found = ledger.datasets.registrations_of(
        bytes(content_hash), from_block=ledger.deployment.start_block
    )
    if not found:
        console.print(
            f"[bold red]NO MATCH[/] {file.name} ({content_hash}) is not registered on chain"
        )
        return
    table = Table(title=f"[bold green]MATCH[/] {file.name}")
    for column in ("dataset", "version", "department", "signing key", "block", "tx"):
        table.add_column(column)
    for event in found:
        department = ledger.departments.department(event.args["department"])
        table.add_row(
            "0x" + event.args["datasetId"].hex()[:16] + "…",
            str(event.args["version"]),
            str(event.args["department"]),
            department.signer,
            str(event.block_number),
            event.tx_hash[:18] + "…",
        )
    console.print(table)
