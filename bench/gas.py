#!/usr/bin/env python
"""Gas benchmark of every provledger contract operation, on a fresh chain.

    python bench/gas.py [--chain eth-tester|anvil] [--json] [--markdown] [--repeats N]

Deploys the contracts from a fresh governance key, enrols departments with fresh
``eth_account`` keys, and records the receipt ``gasUsed`` of every operation: deployments,
governance actions, dataset, access, anchor and encryption-key actions, each sent directly by
the department's key and by EIP-712 signature through a relayer.

Signed actions are measured in *steady state* (the department's nonce slot on that contract is
already non-zero, the dataset already has versions) and, separately, on *first use* (the first
signed action of a department on a contract pays a zero→non-zero nonce SSTORE, 17,100 gas
more). The targets are about steady state.

Same-run baseline: a plain ETH transfer (21,000 intrinsic gas) and, for every operation, the
same calldata sent to an externally owned account ("calldata-only tx"). The table also splits
each operation into fixed transaction overhead (21,000 + calldata at 4/16 gas per zero/non-zero
byte, + 32,000 and initcode words for a deployment) and contract work (the rest). Note that
since Prague (EIP-7623) a transaction pays at least 21,000 + 10 gas per calldata token
(zero byte = 1 token, non-zero byte = 4): a calldata-only transaction pays that floor, which is
why it costs more than the "21k + calldata" overhead share of a contract call.

With ``--chain anvil`` it starts its own anvil node (``ledger.chain.anvil.AnvilNode``), stops it
at the end, and also breaks ``addVersionBySig`` down opcode by opcode from
``debug_traceTransaction``.

``--json`` prints one JSON object per line per operation, then a summary line with the targets;
the exit code is 1 if a target fails.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Measure the contracts of the checkout this script is in, even when another checkout is the
# one installed in the virtualenv (worktrees share one).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from ledger.chain.backend import Chain, Receipt
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, Kem, NewVersion, VersionRef
from ledger.delivery import RECEIPT_BATCH_COMMITMENT, leaf_digest, receipt_domain
from ledger.delivery import Receipt as DeliveryReceipt
from ledger.merkle import MerkleTree

# --------------------------------------------------------------------------------------------
# Reference figures. These are QUOTED FROM THE ISSUE ("measured on this EVM"); this script
# does not re-measure them (EAS is not deployed here). They are only divided into our figures.
# --------------------------------------------------------------------------------------------
REF_EAS_ATTEST = 200_272
"""Issue figure: EAS ``attest`` of a single bytes32, gas per transaction."""
REF_EAS_MULTI_ATTEST_PER_RECORD = 165_923
"""Issue figure: EAS ``multiAttest``, gas per record."""
REF_EAS_TIMESTAMP = 45_869
"""Issue figure: EAS ``timestamp(bytes32)``, gas per transaction."""
REF_EAS_MULTI_TIMESTAMP_PER_RECORD = 24_581
"""Issue figure: EAS ``multiTimestamp``, gas per record."""
REF_BARE_ANCHOR_1000 = 45_600
"""Issue figure: a bare Merkle-root anchor of 1,000 records, gas per batch (~45.6 per record)."""
REF_BARE_ANCHOR_RECORDS = 1_000

# Targets (steady state).
TARGET_ADD_VERSION_BY_SIG = 70_000
TARGET_ANCHOR_1000_PER_RECORD = 100.0

# Gas schedule constants used for the overhead split (Prague).
G_TX = 21_000
G_CREATE = 32_000
G_INITCODE_WORD = 2
G_CALLDATA_ZERO = 4
G_CALLDATA_NONZERO = 16
G_FLOOR_PER_TOKEN = 10  # EIP-7623

ANCHOR_SIZES = (10, 100, 1_000, 10_000)
#: Delivery receipts per anchored batch (issue 13: gas per receipt at 1, 100, 1,000).
RECEIPT_BATCH_SIZES = (1, 100, 1_000)
PARENT_COUNTS = (0, 1, 4)
FUNDS = 10**21


def rand32() -> bytes:
    return secrets.token_bytes(32)


def calldata_costs(data: bytes) -> tuple[int, int]:
    """(standard calldata gas at 4/16, EIP-7623 token count)."""
    zeros = data.count(0)
    nonzeros = len(data) - zeros
    return zeros * G_CALLDATA_ZERO + nonzeros * G_CALLDATA_NONZERO, zeros + 4 * nonzeros


@dataclass
class Measurement:
    operation: str
    group: str
    gas: int
    records: int | None = None
    samples: list[int] = field(default_factory=list)
    tx_hash: str | None = None
    calldata: bytes = b""
    is_create: bool = False
    kind: str = "receipt"  # "receipt" (gasUsed) or "estimate" (eth_estimateGas of a view)
    calldata_only_gas: int | None = None
    note: str = ""

    @property
    def gas_per_record(self) -> float | None:
        return self.gas / self.records if self.records else None

    @property
    def calldata_gas(self) -> int:
        return calldata_costs(self.calldata)[0]

    @property
    def overhead(self) -> int:
        """Fixed transaction overhead: 21k + calldata (+ creation cost and initcode words)."""
        extra = (
            G_CREATE + G_INITCODE_WORD * math.ceil(len(self.calldata) / 32) if self.is_create else 0
        )
        return G_TX + self.calldata_gas + extra

    @property
    def work(self) -> int:
        return self.gas - self.overhead

    def as_json(self) -> dict[str, Any]:
        gpr = self.gas_per_record
        return {
            "operation": self.operation,
            "gas": self.gas,
            "records": self.records,
            "gas_per_record": round(gpr, 2) if gpr is not None else None,
            "group": self.group,
            "kind": self.kind,
            "samples": self.samples or [self.gas],
            "calldata_bytes": len(self.calldata),
            "overhead_gas": self.overhead if self.kind != "sum" else None,
            "contract_work_gas": self.work if self.kind != "sum" else None,
            "calldata_only_tx_gas": self.calldata_only_gas,
            "tx_hash": self.tx_hash,
            "note": self.note,
        }


@dataclass
class Department:
    id: int
    name: str
    key: LocalAccount


class Bench:
    def __init__(self, chain: Chain, *, repeats: int, trace: bool, log: Callable[[str], None]):
        self.chain = chain
        self.w3: Any = chain.w3  # web3's TypedDicts add nothing to a benchmark script
        self.repeats = repeats
        self.trace = trace
        self.log = log
        self.results: list[Measurement] = []
        self.breakdowns: dict[str, list[tuple[str, int]]] = {}
        self.gov = self._funded()
        self.relayer = self._funded()
        self.baseline_sender = self._funded()
        self.sink = Account.create().address  # an EOA that receives the calldata-only txs
        self.deadline = 0

    # --- plumbing --------------------------------------------------------------------------

    def _funded(self) -> LocalAccount:
        account: LocalAccount = Account.create()
        self.chain.fund(account.address, FUNDS)
        return account

    def record(
        self,
        operation: str,
        group: str,
        receipts: list[Receipt],
        *,
        records: int | None = None,
        note: str = "",
    ) -> Measurement:
        """One row from one or more receipts of the same operation (median gas, median tx)."""
        gases = [r.gas_used for r in receipts]
        median = int(statistics.median_low(gases))
        chosen = receipts[gases.index(median)]
        data = bytes(self.w3.eth.get_transaction(chosen.tx_hash)["input"])
        m = Measurement(
            operation=operation,
            group=group,
            gas=median,
            records=records,
            samples=gases if len(gases) > 1 else [],
            tx_hash=chosen.tx_hash,
            calldata=data,
            note=note,
        )
        self.results.append(m)
        return m

    def send_calldata_only(self, data: bytes) -> int:
        """Send ``data`` to an EOA (no code runs) and return the receipt's gasUsed."""
        w3 = self.w3
        sender = self.baseline_sender
        params: dict[str, Any] = {
            "from": sender.address,
            "to": self.sink,
            "value": 0,
            "data": HexBytes(data).to_0x_hex(),
            "chainId": self.chain.chain_id,
            "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
        }
        std, tokens = calldata_costs(data)
        estimate = int(w3.eth.estimate_gas(params))
        # eth-tester's estimate ignores the EIP-7623 floor; never send less than the floor.
        params["gas"] = max(estimate, G_TX + std, G_TX + G_FLOOR_PER_TOKEN * tokens)
        self._fees(params)
        return self.chain.send_signed(sender, params).gas_used

    def _fees(self, params: dict[str, Any]) -> None:
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        priority = 10**9
        params["maxPriorityFeePerGas"] = priority
        params["maxFeePerGas"] = 2 * base + priority

    def eth_transfer(self) -> Receipt:
        sender = self.baseline_sender
        params: dict[str, Any] = {
            "from": sender.address,
            "to": self.sink,
            "value": 1,
            "chainId": self.chain.chain_id,
            "nonce": self.w3.eth.get_transaction_count(sender.address, "pending"),
            "gas": G_TX,
        }
        self._fees(params)
        return self.chain.send_signed(sender, params)

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> None:
        self.log("same-run baseline: ETH transfer")
        self.record("ETH transfer (21,000 intrinsic)", "baseline (same run)", [self.eth_transfer()])
        self.log("deploying")
        self.deploy()
        self.deadline = self.chain.block_time() + 30 * 86_400
        self.log("departments")
        self.departments_section()
        self.log("datasets")
        self.datasets_section()
        self.log("access")
        self.access_section()
        self.log("anchors")
        self.anchors_section()
        self.log("encryption keys")
        self.keys_section()
        self.log("delivery receipts")
        self.receipts_section()
        self.log("calldata-only baseline transactions")
        for m in self.results:
            if m.kind == "receipt" and m.group != "baseline (same run)":
                m.calldata_only_gas = self.send_calldata_only(m.calldata)
            elif m.group == "baseline (same run)":
                m.calldata_only_gas = m.gas

    def deploy(self) -> None:
        start = self.w3.eth.block_number
        self.ledger = Ledger.deploy(self.chain, self.gov)
        d = self.ledger.deployment
        by_address = {
            d.department_registry: "DepartmentRegistry",
            d.dataset_registry: "DatasetRegistry",
            d.access_registry: "AccessRegistry",
            d.anchor_registry: "AnchorRegistry",
            d.key_directory: "KeyDirectory",
        }
        found: dict[str, tuple[str, bytes]] = {}
        for number in range(start + 1, self.w3.eth.block_number + 1):
            block = self.w3.eth.get_block(number, full_transactions=True)
            for tx in block["transactions"]:
                if not tx.get("to"):  # creation: None (anvil) or "" (eth-tester)
                    receipt = self.w3.eth.get_transaction_receipt(tx["hash"])
                    name = by_address.get(receipt["contractAddress"])
                    if name:
                        full = self.w3.eth.get_transaction(tx["hash"])
                        found[name] = (HexBytes(tx["hash"]).to_0x_hex(), bytes(full["input"]))
        for name in d.gas_used:
            tx_hash, initcode = found[name]
            self.results.append(
                Measurement(
                    operation=f"deploy {name}",
                    group="deployment",
                    gas=d.gas_used[name],
                    tx_hash=tx_hash,
                    calldata=initcode,
                    is_create=True,
                )
            )
        total = sum(d.gas_used.values())
        self.results.append(
            Measurement(
                operation=f"deploy all {len(d.gas_used)} (total)",
                group="deployment",
                gas=total,
                kind="sum",
                note="sum of the deployments",
            )
        )

    # departments ---------------------------------------------------------------------------

    def departments_section(self) -> None:
        reg = self.ledger.departments
        gov = self.gov
        names = [
            "Department of Health",
            "Department for Transport",
            "Office for National Statistics",
            "HM Treasury",
            "Department for Education",
            "Home Office",
            "Ministry of Justice",
        ]
        self.depts: list[Department] = []
        enrols: list[Receipt] = []
        for i, name in enumerate(names, start=1):
            dept = Department(i, name, self._funded())
            enrols.append(reg.enrol_department(dept.id, dept.name, dept.key.address, sender=gov))
            self.depts.append(dept)
        self.record(
            "enrolDepartment",
            "governance",
            enrols,
            note=f"names of {min(map(len, names))}-{max(map(len, names))} bytes",
        )
        self.a, self.b, self.c, self.d = self.depts[:4]
        self.first_use_depts = self.depts[4:7]
        new_key = self._funded()
        self.record(
            "rotateDepartmentKey",
            "governance",
            [reg.rotate_department_key(self.d.id, new_key.address, sender=gov)],
        )
        self.d.key = new_key
        self.record(
            "suspendDepartment",
            "governance",
            [reg.suspend_department(self.d.id, rand32(), sender=gov)],
        )
        self.record(
            "reactivateDepartment", "governance", [reg.reactivate_department(self.d.id, sender=gov)]
        )
        self.record("pause", "governance", [reg.pause(sender=gov)])
        self.record("unpause", "governance", [reg.unpause(sender=gov)])

    # datasets ------------------------------------------------------------------------------

    def _create_direct(
        self, dept: Department, parents: tuple[VersionRef, ...] = ()
    ) -> tuple[bytes, Receipt]:
        ds = self.ledger.datasets
        salt = rand32()
        receipt = ds.create_dataset(
            salt,
            Classification.INTERNAL,
            rand32(),
            NewVersion(rand32(), rand32(), parents),
            sender=dept.key,
        )
        return ds.dataset_id_of(dept.id, salt), receipt

    def _create_by_sig(
        self, dept: Department, parents: tuple[VersionRef, ...] = ()
    ) -> tuple[bytes, Receipt]:
        ds = self.ledger.datasets
        salt, meta, first = rand32(), rand32(), NewVersion(rand32(), rand32(), parents)
        auth = ds.sign_create_dataset(
            salt,
            Classification.INTERNAL,
            meta,
            first,
            signer=dept.key,
            department_id=dept.id,
            deadline=self.deadline,
        )
        receipt = ds.create_dataset_by_sig(
            salt, Classification.INTERNAL, meta, first, auth=auth, sender=self.relayer
        )
        return ds.dataset_id_of(dept.id, salt), receipt

    def _add_version_by_sig(
        self, dept: Department, dataset_id: bytes, parents: tuple[VersionRef, ...]
    ) -> Receipt:
        ds = self.ledger.datasets
        version = NewVersion(rand32(), rand32(), parents)
        auth = ds.sign_add_version(
            dataset_id, version, signer=dept.key, department_id=dept.id, deadline=self.deadline
        )
        return ds.add_version_by_sig(dataset_id, version, auth=auth, sender=self.relayer)

    def datasets_section(self) -> None:
        ds = self.ledger.datasets
        a, b = self.a, self.b
        g = "datasets"
        # Direct creation by department A.
        self.da1, r = self._create_direct(a)
        self.record("createDataset direct, 0 parents", g, [r])
        self.da2, r = self._create_direct(a, (VersionRef(self.da1, 1),))
        self.record("createDataset direct, 1 parent", g, [r], note="parent: v1 of another dataset")
        self.da3, _ = self._create_direct(a)
        self.da4, _ = self._create_direct(a)
        # By signature, department B through the relayer.
        self.db1, r = self._create_by_sig(b)
        self.record("createDatasetBySig, 0 parents (first use)", g, [r], note="nonce 0→1")
        self.db2, r = self._create_by_sig(b)
        self.record("createDatasetBySig, 0 parents (steady)", g, [r])
        self.db3, r = self._create_by_sig(b, (VersionRef(self.da1, 1),))
        self.record(
            "createDatasetBySig, 1 parent (steady)", g, [r], note="parent: v1 of another dataset"
        )
        pool = [VersionRef(x, 1) for x in (self.da2, self.da3, self.da4, self.db3)]
        parent_sets = {0: (), 1: tuple(pool[:1]), 4: tuple(pool)}
        parent_note = "parents: v1 of distinct other datasets"

        # addVersion direct: the dataset already has versions; repeated, median reported.
        for count in PARENT_COUNTS:
            receipts = [
                ds.add_version(
                    self.da1, NewVersion(rand32(), rand32(), parent_sets[count]), sender=a.key
                )
                for _ in range(self.repeats)
            ]
            self.record(
                f"addVersion direct, {count} parent{'s' if count != 1 else ''}",
                g,
                receipts,
                note=parent_note if count else "",
            )

        # addVersionBySig steady state: B's nonce is non-zero, the dataset has versions.
        for count in PARENT_COUNTS:
            receipts = [
                self._add_version_by_sig(b, self.db1, parent_sets[count])
                for _ in range(self.repeats)
            ]
            m = self.record(
                f"addVersionBySig, {count} parent{'s' if count != 1 else ''} (steady)",
                g,
                receipts,
                note=parent_note if count else "",
            )
            if self.trace and count in (0, 1):
                parents = [p.dataset_id for p in parent_sets[count]]
                self.breakdowns[m.operation] = self.breakdown(
                    m, dept_id=b.id, dataset_id=self.db1, parent_ids=parents
                )

        # addVersionBySig first use: a department whose first signed action on DatasetRegistry
        # this is (its dataset was created directly, so the dataset already has a version).
        for count, dept in zip(PARENT_COUNTS, self.first_use_depts, strict=True):
            dataset_id, _ = self._create_direct(dept)
            r = self._add_version_by_sig(dept, dataset_id, parent_sets[count])
            self.record(
                f"addVersionBySig, {count} parent{'s' if count != 1 else ''} (first use)",
                g,
                [r],
                note="nonce 0→1",
            )

        # Withdrawal.
        victim, _ = self._create_direct(a)
        self.record(
            "withdrawDataset direct", g, [ds.withdraw_dataset(victim, rand32(), sender=a.key)]
        )
        victim, _ = self._create_by_sig(b)
        reason = rand32()
        auth = ds.sign_withdraw_dataset(
            victim, reason, signer=b.key, department_id=b.id, deadline=self.deadline
        )
        self.record(
            "withdrawDatasetBySig (steady)",
            g,
            [ds.withdraw_dataset_by_sig(victim, reason, auth=auth, sender=self.relayer)],
        )

    # access --------------------------------------------------------------------------------

    def access_section(self) -> None:
        acc = self.ledger.access
        a, b, c = self.a, self.b, self.c
        g = "access"
        duration = 90 * 86_400
        expires = self.chain.block_time() + 60 * 86_400
        dl = self.deadline

        def request_direct(dataset_id: bytes) -> tuple[bytes, Receipt]:
            salt = rand32()
            receipt = acc.request_access(salt, dataset_id, rand32(), duration, sender=c.key)
            return acc.request_id_of(c.id, salt), receipt

        def request_by_sig(dataset_id: bytes) -> tuple[bytes, Receipt]:
            salt, purpose = rand32(), rand32()
            auth = acc.sign_request_access(
                salt, dataset_id, purpose, duration, signer=c.key, department_id=c.id, deadline=dl
            )
            receipt = acc.request_access_by_sig(
                salt, dataset_id, purpose, duration, auth=auth, sender=self.relayer
            )
            return acc.request_id_of(c.id, salt), receipt

        # Direct: C asks A (owner of da*), A answers.
        r1, r = request_direct(self.da1)
        self.record("requestAccess direct", g, [r])
        self.record(
            "approveAccess direct",
            g,
            [acc.approve_access(r1, expires, sender=a.key)],
            note="new live grant (0→1 slot)",
        )
        self.record(
            "revokeAccess direct",
            g,
            [acc.revoke_access(r1, rand32(), sender=a.key)],
            note="clears live grant (refund)",
        )
        r2, _ = request_direct(self.da1)
        self.record("denyAccess direct", g, [acc.deny_access(r2, rand32(), sender=a.key)])
        r3, _ = request_direct(self.da1)
        self.record("cancelAccessRequest direct", g, [acc.cancel_access_request(r3, sender=c.key)])

        # By signature: C asks B (owner of db*), B answers, all through the relayer.
        r4, r = request_by_sig(self.db1)
        self.record("requestAccessBySig (first use)", g, [r], note="nonce 0→1")
        r5, r = request_by_sig(self.db2)
        self.record("requestAccessBySig (steady)", g, [r])
        auth = acc.sign_approve_access(r4, expires, signer=b.key, department_id=b.id, deadline=dl)
        self.record(
            "approveAccessBySig (first use)",
            g,
            [acc.approve_access_by_sig(r4, expires, auth=auth, sender=self.relayer)],
            note="nonce 0→1",
        )
        auth = acc.sign_approve_access(r5, expires, signer=b.key, department_id=b.id, deadline=dl)
        self.record(
            "approveAccessBySig (steady)",
            g,
            [acc.approve_access_by_sig(r5, expires, auth=auth, sender=self.relayer)],
            note="new live grant (0→1 slot)",
        )
        reason = rand32()
        auth = acc.sign_revoke_access(r5, reason, signer=b.key, department_id=b.id, deadline=dl)
        self.record(
            "revokeAccessBySig (steady)",
            g,
            [acc.revoke_access_by_sig(r5, reason, auth=auth, sender=self.relayer)],
            note="clears live grant (refund)",
        )
        r6, _ = request_direct(self.db1)
        auth = acc.sign_deny_access(r6, reason, signer=b.key, department_id=b.id, deadline=dl)
        self.record(
            "denyAccessBySig (steady)",
            g,
            [acc.deny_access_by_sig(r6, reason, auth=auth, sender=self.relayer)],
        )
        r7, _ = request_direct(self.db1)
        auth = acc.sign_cancel_access_request(r7, signer=c.key, department_id=c.id, deadline=dl)
        self.record(
            "cancelAccessRequestBySig (steady)",
            g,
            [acc.cancel_access_request_by_sig(r7, auth=auth, sender=self.relayer)],
        )

    # anchors -------------------------------------------------------------------------------

    def anchors_section(self) -> None:
        anc = self.ledger.anchors
        a, b = self.a, self.b
        g = "anchors"

        def tree(size: int) -> tuple[MerkleTree, list[bytes]]:
            records = [rand32() for _ in range(size)]
            return MerkleTree(records), records

        for size in ANCHOR_SIZES:
            t, records = tree(size)
            self.record(
                f"anchorBatch direct, {size:,} records",
                g,
                [anc.anchor_batch(t.root, size, rand32(), sender=a.key)],
                records=size,
            )
            if size == 1_000:
                self.tree_1000, self.records_1000 = t, records

        def by_sig(size: int) -> Receipt:
            t, _ = tree(size)
            meta = rand32()
            auth = anc.sign_anchor_batch(
                t.root, size, meta, signer=b.key, department_id=b.id, deadline=self.deadline
            )
            return anc.anchor_batch_by_sig(t.root, size, meta, auth=auth, sender=self.relayer)

        self.record(
            "anchorBatchBySig, 1,000 records (first use)",
            g,
            [by_sig(1_000)],
            records=1_000,
            note="nonce 0→1",
        )
        for size in ANCHOR_SIZES:
            self.record(
                f"anchorBatchBySig, {size:,} records (steady)", g, [by_sig(size)], records=size
            )

        # verifyInclusion is a view: free off chain; eth_estimateGas says what it would cost
        # inside a transaction (21k + calldata included).
        t, records = self.tree_1000, self.records_1000
        index = 500
        proof = [bytes(h) for h in t.proof(index).hashes]
        fn = anc.contract.functions.verifyInclusion(t.root, index, records[index], proof)
        assert fn.call() is True, "verifyInclusion rejected a valid proof"
        estimate = int(fn.estimate_gas({"from": self.relayer.address}))
        data = bytes(
            HexBytes(
                anc.contract.encode_abi(
                    "verifyInclusion", args=[t.root, index, records[index], proof]
                )
            )
        )
        self.results.append(
            Measurement(
                operation=f"verifyInclusion, 1,000-leaf tree ({len(proof)}-hash proof)",
                group="anchors",
                gas=estimate,
                calldata=data,
                kind="estimate",
                note="view: free off chain; eth_estimateGas",
            )
        )
        self.record(
            f"verifyInclusion sent as a transaction ({len(proof)}-hash proof)",
            g,
            [self.chain.transact(fn, self.relayer)],
            note="same call mined: exact gasUsed",
        )

    # encryption keys (issue 13) -----------------------------------------------------------

    def keys_section(self) -> None:
        keys = self.ledger.keys
        g = "encryption keys"

        def public_key(kem: Kem) -> bytes:
            dh = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
            if kem is Kem.X25519:
                return dh
            return mlkem.MLKEM768PrivateKey.generate().public_key().public_bytes_raw() + dh

        def direct(dept: Department, kem: Kem) -> Receipt:
            return keys.publish_encryption_key(kem, public_key(kem), sender=dept.key)

        def by_sig(dept: Department, kem: Kem) -> Receipt:
            key = public_key(kem)
            auth = keys.sign_publish_encryption_key(
                kem, key, signer=dept.key, department_id=dept.id, deadline=self.deadline
            )
            return keys.publish_encryption_key_by_sig(kem, key, auth=auth, sender=self.relayer)

        # A department's first key fills two fresh slots (state, hash of serial 1); a rotation
        # overwrites the state slot and fills one fresh hash slot. a and b publish their first
        # keys directly, one of each kind; d signs, so its first key also pays its nonce.
        for dept, kem in ((self.a, Kem.X25519), (self.b, Kem.MLKEM768_X25519)):
            note = f"{kem.public_key_length}-byte key"
            self.record(
                f"publishEncryptionKey {kem.name} (first key)", g, [direct(dept, kem)], note=note
            )
        for kem in Kem:
            rotations = [direct(self.a, kem) for _ in range(self.repeats)]
            self.record(f"publishEncryptionKey {kem.name} (rotation)", g, rotations)
        self.record(
            "publishEncryptionKeyBySig X25519 (first key, first use)",
            g,
            [by_sig(self.d, Kem.X25519)],
            note="nonce 0→1",
        )
        for kem in Kem:
            rotations = [by_sig(self.d, kem) for _ in range(self.repeats)]
            self.record(f"publishEncryptionKeyBySig {kem.name} (rotation, steady)", g, rotations)

    # delivery receipts (issue 13) ---------------------------------------------------------

    def receipts_section(self) -> None:
        """A batch of delivery receipts anchored as the service anchors it: the RFC 6962 root
        over the receipts' leaves, ``anchorBatchBySig`` signed by the receiving department,
        ``metadataHash`` naming the receipt format. Only the root goes on chain (the receipts'
        signatures stay with the service and in the bundles), so the gas per receipt is the
        anchor's gas over the batch's size."""
        anc = self.ledger.anchors
        b = self.b
        domain = receipt_domain(self.chain.chain_id, self.ledger.access.address)

        def batch(size: int) -> Receipt:
            dataset, request, moment = rand32(), rand32(), self.chain.block_time()
            leaves = [
                leaf_digest(
                    DeliveryReceipt(
                        dataset_id=dataset,
                        version=1 + i,
                        content_hash=rand32(),
                        sealed_hash=rand32(),
                        request_id=request,
                        department_id=b.id,
                        time=moment,
                    ).digest(domain)
                )
                for i in range(size)
            ]
            root = MerkleTree(leaves).root
            auth = anc.sign_anchor_batch(
                root,
                size,
                RECEIPT_BATCH_COMMITMENT,
                signer=b.key,
                department_id=b.id,
                deadline=self.deadline,
            )
            return anc.anchor_batch_by_sig(
                root, size, RECEIPT_BATCH_COMMITMENT, auth=auth, sender=self.relayer
            )

        for size in RECEIPT_BATCH_SIZES:
            self.record(
                f"receipts: anchorBatchBySig, {size:,} receipt{'s' if size > 1 else ''} (steady)",
                "delivery receipts",
                [batch(size) for _ in range(self.repeats)],
                records=size,
                note="gas/record = gas per receipt",
            )

    # opcode breakdown (anvil) --------------------------------------------------------------

    def breakdown(
        self, m: Measurement, *, dept_id: int, dataset_id: bytes, parent_ids: list[bytes]
    ) -> list[tuple[str, int]]:
        """Split a transaction's gas by what the top-level frame spent it on."""
        response = self.w3.provider.make_request(
            "debug_traceTransaction",
            [m.tx_hash, {"disableStorage": True, "disableMemory": True, "disableStack": False}],
        )
        if "error" in response:
            raise RuntimeError(f"debug_traceTransaction failed: {response['error']}")
        logs = response["result"]["structLogs"]
        if not logs:
            raise RuntimeError(
                "debug_traceTransaction returned no steps (is anvil running with --steps-tracing?)"
            )
        registry = int(self.ledger.deployment.department_registry, 16)

        def mapping_slots(key_type: str, key: Any, width: int) -> set[int]:
            # Storage slots of mapping entry `key` for every plausible mapping position (0..15).
            out: set[int] = set()
            for position in range(16):
                base = int.from_bytes(
                    keccak(abi_encode([key_type, "uint256"], [key, position])), "big"
                )
                out.update(base + k for k in range(width))
            return out

        nonce_slots = mapping_slots("uint256", dept_id, 1)  # Nonces: address(uint160(departmentId))
        dataset_slots = mapping_slots("bytes32", dataset_id, 2)
        parent_slots = (
            set().union(*(mapping_slots("bytes32", p, 2) for p in parent_ids))
            if parent_ids
            else set()
        )

        def slot_label(key: int) -> str:
            if key in nonce_slots:
                return "nonce slot: cold SLOAD + SSTORE non-zero→non-zero"
            if key in dataset_slots:
                return "dataset record, 2 slots (count, history head): cold SLOADs + SSTOREs"
            if key in parent_slots:
                return "parent existence checks: cold SLOAD of each parent dataset"
            return "other storage access"

        buckets: dict[str, int] = {}
        ops = [
            (int(s["depth"]), int(s["gas"]), int(s["gasCost"]), s["op"], s.get("stack") or [])
            for s in logs
        ]
        for i, (depth, gas, cost, op, stack) in enumerate(ops):
            if depth != 1:
                continue
            nxt = next((g for d, g, *_ in ops[i + 1 :] if d == 1), None)
            spent = gas - nxt if nxt is not None else cost
            if op in ("STATICCALL", "CALL", "DELEGATECALL", "CALLCODE"):
                target = int(stack[-2], 16) if len(stack) >= 2 else -1
                if target == 1:
                    label = "ecrecover (precompile 0x01, 3,000 + call)"
                elif target == registry:
                    label = "DepartmentRegistry.requireActiveSigner (cold account + its SLOADs)"
                else:
                    label = f"{op} to {hex(target)}"
            elif op in ("SSTORE", "SLOAD"):
                label = slot_label(int(stack[-1], 16) if stack else -1)
            elif op.startswith("LOG"):
                label = f"{op} event VersionAdded"
            elif op == "KECCAK256":
                label = "KECCAK256 (EIP-712 struct/domain hashes, history head, mapping keys)"
            else:
                label = "other opcodes (ABI decoding, memory, stack, jumps)"
            buckets[label] = buckets.get(label, 0) + spent
        std = calldata_costs(m.calldata)[0]
        rows = [("intrinsic (21,000)", G_TX), (f"calldata ({len(m.calldata)} bytes at 4/16)", std)]
        rows += sorted(buckets.items(), key=lambda kv: -kv[1])
        rows.append(("refund / unattributed", m.gas - sum(v for _, v in rows)))
        return rows


# --------------------------------------------------------------------------------------------
# Evaluation and output
# --------------------------------------------------------------------------------------------


def find(results: list[Measurement], operation: str) -> Measurement:
    for m in results:
        if m.operation == operation:
            return m
    raise KeyError(operation)


def targets(results: list[Measurement]) -> list[dict[str, Any]]:
    out = []
    for count in (0, 1):
        name = f"addVersionBySig, {count} parent{'s' if count != 1 else ''} (steady)"
        m = find(results, name)
        out.append(
            {
                "target": f"{name} <= {TARGET_ADD_VERSION_BY_SIG:,} gas",
                "value": m.gas,
                "limit": TARGET_ADD_VERSION_BY_SIG,
                "unit": "gas",
                "pass": m.gas <= TARGET_ADD_VERSION_BY_SIG,
            }
        )
    for name in ("anchorBatch direct, 1,000 records", "anchorBatchBySig, 1,000 records (steady)"):
        m = find(results, name)
        gpr = m.gas_per_record or 0.0
        out.append(
            {
                "target": f"{name} <= {TARGET_ANCHOR_1000_PER_RECORD:g} gas/record",
                "value": round(gpr, 2),
                "limit": TARGET_ANCHOR_1000_PER_RECORD,
                "unit": "gas/record",
                "pass": gpr <= TARGET_ANCHOR_1000_PER_RECORD,
            }
        )
    return out


def comparisons(results: list[Measurement]) -> list[dict[str, Any]]:
    rows = []
    for name in ("addVersionBySig, 0 parents (steady)", "addVersionBySig, 1 parent (steady)"):
        m = find(results, name)
        rows.append(
            {
                "ours": name,
                "ours_value": m.gas,
                "reference": "EAS attest, single bytes32 (issue)",
                "reference_value": REF_EAS_ATTEST,
                "unit": "gas/tx",
                "ratio": m.gas / REF_EAS_ATTEST,
            }
        )
    bare = REF_BARE_ANCHOR_1000 / REF_BARE_ANCHOR_RECORDS
    for name in ("anchorBatch direct, 1,000 records", "anchorBatchBySig, 1,000 records (steady)"):
        m = find(results, name)
        gpr = m.gas_per_record or 0.0
        rows.append(
            {
                "ours": name,
                "ours_value": gpr,
                "reference": "bare Merkle-root anchor, 1,000 records (issue)",
                "reference_value": bare,
                "unit": "gas/record",
                "ratio": gpr / bare,
            }
        )
        rows.append(
            {
                "ours": name,
                "ours_value": gpr,
                "reference": "EAS multiTimestamp (issue)",
                "reference_value": REF_EAS_MULTI_TIMESTAMP_PER_RECORD,
                "unit": "gas/record",
                "ratio": gpr / REF_EAS_MULTI_TIMESTAMP_PER_RECORD,
            }
        )
    return rows


REFERENCE_ROWS = [
    ("EAS attest, single bytes32", REF_EAS_ATTEST, None, None),
    ("EAS multiAttest", None, None, float(REF_EAS_MULTI_ATTEST_PER_RECORD)),
    ("EAS timestamp(bytes32)", REF_EAS_TIMESTAMP, None, None),
    ("EAS multiTimestamp", None, None, float(REF_EAS_MULTI_TIMESTAMP_PER_RECORD)),
    (
        "bare Merkle-root anchor, 1,000 records",
        REF_BARE_ANCHOR_1000,
        REF_BARE_ANCHOR_RECORDS,
        REF_BARE_ANCHOR_1000 / REF_BARE_ANCHOR_RECORDS,
    ),
]


def vs_reference(m: Measurement) -> str:
    bare = REF_BARE_ANCHOR_1000 / REF_BARE_ANCHOR_RECORDS
    if m.operation.startswith("addVersionBySig") and "(steady)" in m.operation:
        return f"{m.gas / REF_EAS_ATTEST:.2f}x EAS attest"
    if m.operation.startswith("createDatasetBySig") and "(steady)" in m.operation:
        return f"{m.gas / REF_EAS_ATTEST:.2f}x EAS attest"
    if m.operation.startswith("anchorBatch") and m.gas_per_record is not None:
        multi = f"{m.gas_per_record / REF_EAS_MULTI_TIMESTAMP_PER_RECORD:.5f}x multiTimestamp"
        if m.records == REF_BARE_ANCHOR_RECORDS:
            return f"{m.gas_per_record / bare:.2f}x bare anchor; {multi}"
        return multi
    return ""


def spread(samples: list[int]) -> str:
    if not samples:
        return ""
    lo, hi = min(samples), max(samples)
    return f"median of {len(samples)}" + (f" ({lo:,}-{hi:,})" if lo != hi else " (all equal)")


def fmt_int(v: int | None) -> str:
    return "" if v is None else f"{v:,}"


def fmt_gpr(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:,.2f}" if v < 100 else f"{v:,.1f}"


HEADERS = [
    "Operation",
    "Gas",
    "Records",
    "Gas/record",
    "Calldata B",
    "21k+calldata",
    "Contract work",
    "Calldata-only tx",
    "vs reference (issue)",
    "Note",
]


def table_rows(results: list[Measurement]) -> list[tuple[str, list[str]]]:
    rows = []
    for m in results:
        if m.kind == "sum":
            cells = [m.operation, fmt_int(m.gas), "", "", "", "", "", "", "", m.note]
        else:
            kind = " (estimate)" if m.kind == "estimate" else ""
            cells = [
                m.operation,
                fmt_int(m.gas) + kind,
                fmt_int(m.records),
                fmt_gpr(m.gas_per_record),
                fmt_int(len(m.calldata)),
                fmt_int(m.overhead),
                fmt_int(m.work),
                fmt_int(m.calldata_only_gas),
                vs_reference(m),
                "; ".join(x for x in (m.note, spread(m.samples)) if x),
            ]
        rows.append((m.group, cells))
    for name, gas, records, gpr in REFERENCE_ROWS:
        rows.append(
            (
                "reference: from the issue, NOT measured here",
                [
                    name,
                    fmt_int(gas),
                    fmt_int(records),
                    fmt_gpr(gpr),
                    "",
                    "",
                    "",
                    "",
                    "",
                    "issue constant",
                ],
            )
        )
    return rows


def print_rich(
    chain_name: str,
    results: list[Measurement],
    tg: list[dict[str, Any]],
    cmp: list[dict[str, Any]],
    breakdowns: dict[str, list[tuple[str, int]]],
    elapsed: float,
) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print_text(chain_name, results, tg, cmp, breakdowns, elapsed)
        return
    probe = Console()
    console = probe if probe.is_terminal else Console(width=230)
    table = Table(title=f"provledger gas, chain={chain_name} (receipt gasUsed)", show_lines=False)
    for i, h in enumerate(HEADERS):
        table.add_column(h, justify="right" if 0 < i < 8 else "left", no_wrap=i < 8)
    group = None
    for g, cells in table_rows(results):
        if g != group:
            table.add_section()
            table.add_row(f"[bold]{g}[/bold]", *[""] * (len(HEADERS) - 1))
            group = g
        table.add_row(*cells)
    console.print(table)
    ct = Table(title="Ratios, ours / reference (reference figures quoted from the issue)")
    for h in ("Ours", "Value", "Reference (issue)", "Ref value", "Unit", "Ratio"):
        ct.add_column(h)
    for c in cmp:
        ct.add_row(
            c["ours"],
            f"{c['ours_value']:,.1f}",
            c["reference"],
            f"{c['reference_value']:,.1f}",
            c["unit"],
            f"{c['ratio']:.4f}" if c["ratio"] < 0.01 else f"{c['ratio']:.2f}",
        )
    console.print(ct)
    for name, rows in breakdowns.items():
        bt = Table(title=f"Where the gas of {name} goes (debug_traceTransaction, top-level frame)")
        bt.add_column("Component")
        bt.add_column("Gas", justify="right")
        bt.add_column("Share", justify="right")
        total = sum(v for _, v in rows)
        for label, v in rows:
            bt.add_row(label, f"{v:,}", f"{100 * v / total:.1f}%")
        bt.add_row("[bold]total = receipt gasUsed[/bold]", f"{total:,}", "")
        console.print(bt)
    for t in tg:
        status = "[green]PASS[/green]" if t["pass"] else "[red]FAIL[/red]"
        console.print(f"{status}  {t['target']}: {t['value']:,} {t['unit']}")
    console.print(f"elapsed {elapsed:.1f} s")


def _aligned(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def print_text(
    chain_name: str,
    results: list[Measurement],
    tg: list[dict[str, Any]],
    cmp: list[dict[str, Any]],
    breakdowns: dict[str, list[tuple[str, int]]],
    elapsed: float,
) -> None:
    print(f"provledger gas, chain={chain_name} (receipt gasUsed)")
    rows: list[list[str]] = []
    group = None
    for g, cells in table_rows(results):
        if g != group:
            rows.append([f"[{g}]"] + [""] * (len(HEADERS) - 1))
            group = g
        rows.append(cells)
    print(_aligned(HEADERS, rows))
    print()
    print(
        _aligned(
            ["Ours", "Value", "Reference (issue)", "Ref value", "Unit", "Ratio"],
            [
                [
                    c["ours"],
                    f"{c['ours_value']:,.1f}",
                    c["reference"],
                    f"{c['reference_value']:,.1f}",
                    c["unit"],
                    f"{c['ratio']:.4f}",
                ]
                for c in cmp
            ],
        )
    )
    for name, brows in breakdowns.items():
        print(f"\nWhere the gas of {name} goes")
        print(_aligned(["Component", "Gas"], [[label, f"{v:,}"] for label, v in brows]))
    for t in tg:
        print(f"{'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['value']:,} {t['unit']}")
    print(f"elapsed {elapsed:.1f} s")


def print_markdown(
    chain_name: str,
    results: list[Measurement],
    tg: list[dict[str, Any]],
    cmp: list[dict[str, Any]],
    breakdowns: dict[str, list[tuple[str, int]]],
    elapsed: float,
) -> None:
    def md(headers: list[str], rows: list[list[str]], right: set[int]) -> None:
        print("| " + " | ".join(headers) + " |")
        print("|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|")
        for r in rows:
            print("| " + " | ".join(c.replace("|", "/") for c in r) + " |")

    print(f"### Operations, chain={chain_name} (receipt gasUsed)\n")
    rows = []
    group = None
    for g, cells in table_rows(results):
        if g != group:
            rows.append([f"**{g}**"] + [""] * (len(HEADERS) - 1))
            group = g
        rows.append(cells)
    md(HEADERS, rows, set(range(1, 8)))
    print("\n### Ratios, ours / reference (reference figures quoted from the issue)\n")
    md(
        ["Ours", "Value", "Reference (issue)", "Ref value", "Unit", "Ratio"],
        [
            [
                c["ours"],
                f"{c['ours_value']:,.1f}",
                c["reference"],
                f"{c['reference_value']:,.1f}",
                c["unit"],
                f"{c['ratio']:.4f}" if c["ratio"] < 0.01 else f"{c['ratio']:.2f}",
            ]
            for c in cmp
        ],
        {1, 3, 5},
    )
    for name, brows in breakdowns.items():
        total = sum(v for _, v in brows)
        print(f"\n### Where the gas of {name} goes (debug_traceTransaction, top-level frame)\n")
        md(
            ["Component", "Gas", "Share"],
            [[label, f"{v:,}", f"{100 * v / total:.1f}%"] for label, v in brows]
            + [["**total = gasUsed**", f"{total:,}", ""]],
            {1, 2},
        )
    print("\n### Targets\n")
    for t in tg:
        print(f"- **{'PASS' if t['pass'] else 'FAIL'}** {t['target']}: {t['value']:,} {t['unit']}")
    print(f"\nelapsed {elapsed:.1f} s")


@contextmanager
def open_chain(name: str) -> Iterator[Chain]:
    if name == "anvil":
        from ledger.chain.anvil import AnvilNode

        # --steps-tracing: debug_traceTransaction returns opcode steps (for the breakdown).
        with AnvilNode(extra_args=("--steps-tracing",)) as node:
            yield Chain.rpc(node.url, expected_chain_id=node.chain_id)
    else:
        yield Chain.eth_tester()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chain", choices=("eth-tester", "anvil"), default="eth-tester")
    out = parser.add_mutually_exclusive_group()
    out.add_argument(
        "--json", action="store_true", help="one JSON object per line per operation, then a summary"
    )
    out.add_argument(
        "--markdown", action="store_true", help="Markdown tables (for bench/RESULTS.md)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="samples per steady-state addVersion row (median)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[gas] {message}", file=sys.stderr, flush=True)

    started = time.monotonic()
    with open_chain(args.chain) as chain:
        bench = Bench(chain, repeats=max(1, args.repeats), trace=args.chain == "anvil", log=log)
        bench.run()
    elapsed = time.monotonic() - started
    results = bench.results
    tg = targets(results)
    cmp = comparisons(results)
    ok = all(t["pass"] for t in tg)
    if args.json:
        for m in results:
            print(json.dumps(m.as_json()))
        nonce_delta = (
            find(results, "addVersionBySig, 0 parents (first use)").gas
            - find(results, "addVersionBySig, 0 parents (steady)").gas
        )
        print(
            json.dumps(
                {
                    "summary": True,
                    "chain": args.chain,
                    "targets": tg,
                    "all_targets_pass": ok,
                    "comparisons": [{**c, "ratio": round(c["ratio"], 6)} for c in cmp],
                    "reference_from_issue_not_measured": {
                        "eas_attest": REF_EAS_ATTEST,
                        "eas_multi_attest_per_record": REF_EAS_MULTI_ATTEST_PER_RECORD,
                        "eas_timestamp": REF_EAS_TIMESTAMP,
                        "eas_multi_timestamp_per_record": REF_EAS_MULTI_TIMESTAMP_PER_RECORD,
                        "bare_anchor_1000_per_batch": REF_BARE_ANCHOR_1000,
                    },
                    "first_use_minus_steady_add_version_by_sig": nonce_delta,
                    "breakdowns": {k: dict(v) for k, v in bench.breakdowns.items()},
                    "elapsed_s": round(elapsed, 1),
                }
            )
        )
    elif args.markdown:
        print_markdown(args.chain, results, tg, cmp, bench.breakdowns, elapsed)
    else:
        print_rich(args.chain, results, tg, cmp, bench.breakdowns, elapsed)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
