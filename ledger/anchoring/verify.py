"""Verifying a batched record against the chain: its proof, its root, who signed the root.

Trust preconditions are the verifier's (:mod:`ledger.verifier`): the RPC endpoint serves the
chain it names, and the registry addresses are the ones the auditor trusts. What the record and
its proof come from (our API, our index, a proof bundle from anywhere) does not matter: every
claim is re-derived here.

A batched record is proven by:

* **the leaf**: the record's digest, recomputed from its fields (dataset, version, department,
  content and metadata hashes, lineage), so no field can be altered;
* **inclusion**: the proof leads from that leaf to the root (RFC 6962, checked here with the
  contract's own algorithm: ``tests/contracts/test_anchor_registry.py`` shows the two agree on
  valid and tampered proofs, so no ``verifyInclusion`` runs in the EVM per request), against
  the size the anchor stores;
* **the anchor**: the anchor in the registry's storage names the record's department and the
  batch's size, and the ``BatchAnchored`` log gives the transaction, block and time;
* **who**: the department's EIP-712 signature over the root, recovered from the anchoring
  transaction's calldata, must be by the department's key at that block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3

from ledger.anchoring.records import BatchRecord, RecordKind
from ledger.chain.backend import Chain
from ledger.chain.clients.anchors import AnchorRegistryClient
from ledger.chain.types import AnchorRecord, Authorization
from ledger.encoding import jsonable
from ledger.errors import InvalidProofError
from ledger.merkle import InclusionProof, record_leaf_hash, root_from_inclusion_proof
from ledger.registration import Registration


class ChainReader(Protocol):
    """What the checks read the chain through (the verifier is one)."""

    chain: Chain
    w3: Web3
    start_block: int

    def department_key_at(
        self, department_id: int, block_number: int, log_index: int | None = None
    ) -> str: ...


_BATCH_ANCHORED = "0x" + keccak(text="BatchAnchored(bytes32,uint64,uint64,bytes32)").hex()


def check_inclusion(
    record: BatchRecord, proof: InclusionProof, root: bytes, *, digest: bytes | None = None
) -> None:
    """Offline: the record's leaf leads to ``root`` through ``proof``, or InvalidProofError.
    ``digest`` is the record's, if the caller has computed it already."""
    computed = root_from_inclusion_proof(
        proof.index, proof.tree_size, record_leaf_hash(digest or record.digest()), proof.hashes
    )
    if computed != root:
        raise InvalidProofError(
            f"the record's proof leads to root 0x{computed.hex()}, expected 0x{root.hex()}"
        )


@dataclass(frozen=True, slots=True)
class AnchorEvidence:
    """What the chain says of one anchored root: read once, it proves every record under it."""

    root: bytes
    anchor: AnchorRecord
    contract: str
    chain_id: int
    tx_hash: str
    block_number: int
    block_hash: str
    block_time: int
    log_index: int
    authoriser: tuple[str, str, str, dict[str, Any]]
    department_key: str  # the anchoring department's key at the anchor's log


def anchored_registration(
    verifier: ChainReader,
    anchors: AnchorRegistryClient,
    record: BatchRecord,
    proof: InclusionProof,
    root: bytes,
    *,
    withdrawn: bool = False,
) -> Registration:
    """The registration a batched record proves, every part checked against the chain.

    Raises :class:`InvalidProofError` saying what does not hold. ``withdrawn`` is the caller's
    knowledge of a later withdraw record (the chain alone cannot tell: it is another leaf).
    """
    if record.kind == RecordKind.WITHDRAW:
        raise InvalidProofError("a withdraw record registers no bytes")
    check_inclusion(record, proof, root)
    anchor = anchors.anchor(root)
    if anchor.department == 0:
        raise InvalidProofError(f"no batch with root 0x{root.hex()} is anchored on chain")
    log = anchor_log(verifier, anchors, root)
    tx = verifier.w3.eth.get_transaction(HexBytes(log["transactionHash"]))
    block_number = int(log["blockNumber"])
    log_index = int(log["logIndex"])
    block = verifier.w3.eth.get_block(block_number)
    evidence = AnchorEvidence(
        root=root,
        anchor=anchor,
        contract=anchors.address,
        chain_id=verifier.chain.chain_id,
        tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
        block_number=block_number,
        block_hash=HexBytes(log["blockHash"]).to_0x_hex(),
        block_time=int(block["timestamp"]),
        log_index=log_index,
        authoriser=anchor_authoriser(anchors, bytes(tx["input"]), str(tx["from"])),
        department_key=verifier.department_key_at(anchor.department, block_number, log_index),
    )
    return record_registration(evidence, record, proof, withdrawn=withdrawn)


def record_registration(
    evidence: AnchorEvidence,
    record: BatchRecord,
    proof: InclusionProof,
    *,
    withdrawn: bool = False,
    inclusion_checked: bool = False,
    record_digest: bytes | None = None,
) -> Registration:
    """The registration ``record`` makes, proven under a root whose ``evidence`` was read.

    Raises :class:`InvalidProofError` if the proof does not lead to the root (unless the
    caller has ``inclusion_checked`` already), or the anchor is another department's or of
    another size. ``record_digest`` is the record's digest if the caller has it."""
    root = evidence.root
    if record.kind == RecordKind.WITHDRAW:
        raise InvalidProofError("a withdraw record registers no bytes")
    if not inclusion_checked:
        check_inclusion(record, proof, root)
    anchor = evidence.anchor
    if anchor.department == 0:
        raise InvalidProofError(f"no batch with root 0x{root.hex()} is anchored on chain")
    if anchor.department != record.department_id:
        raise InvalidProofError(
            f"root 0x{root.hex()} was anchored by department {anchor.department}, "
            f"the record names department {record.department_id}"
        )
    if anchor.size != proof.tree_size:
        raise InvalidProofError(
            f"the anchored batch holds {anchor.size} records, the proof is for {proof.tree_size}"
        )
    authorised_by, signer, signature, typed_data = evidence.authoriser
    return Registration(
        dataset_id="0x" + record.dataset_id.hex(),
        version=record.version,
        department_id=record.department_id,
        department_key=evidence.department_key,
        authorised_by=authorised_by,
        signer=signer,
        signature=signature,
        typed_data=typed_data,
        metadata_hash="0x" + record.metadata_hash.hex(),
        parents=[{"dataset_id": "0x" + d.hex(), "version": v} for d, v in record.parents],
        withdrawn=withdrawn,
        # For a batched record, the proven inclusion in the anchored root stands where an
        # on-chain version's complete history does.
        history_complete=True,
        chain_id=evidence.chain_id,
        contract=evidence.contract,
        tx_hash=evidence.tx_hash,
        block_number=evidence.block_number,
        block_hash=evidence.block_hash,
        block_time=evidence.block_time,
        log_index=evidence.log_index,
        anchor={
            "root": "0x" + root.hex(),
            "leaf_index": proof.index,
            "tree_size": proof.tree_size,
            "proof": ["0x" + h.hex() for h in proof.hashes],
            "record": record.to_json(),
            "record_digest": "0x" + (record_digest or record.digest()).hex(),
        },
    )


def anchor_log(verifier: ChainReader, anchors: AnchorRegistryClient, root: bytes) -> Any:
    """The one ``BatchAnchored`` log of ``root``; InvalidProofError if there is not one."""
    logs = verifier.chain.call(
        lambda: verifier.w3.eth.get_logs(
            {
                "address": anchors.address,
                "fromBlock": verifier.start_block,
                "toBlock": "latest",
                "topics": [_BATCH_ANCHORED, "0x" + root.hex()],
            }
        )
    )
    if len(logs) != 1:
        raise InvalidProofError(
            f"expected one BatchAnchored log for 0x{root.hex()}, found {len(logs)}"
        )
    return logs[0]


def anchor_authoriser(
    anchors: AnchorRegistryClient, data: bytes, sender: str
) -> tuple[str, str, str, dict[str, Any]]:
    """Who authorised an anchoring transaction: the department's EIP-712 signer of a relayed
    ``anchorBatchBySig`` (recovered), or the sender of a direct call."""
    name, args = anchors.decode_call(data)
    if name != "anchorBatchBySig":
        return "sender", sender, "", {}
    auth = Authorization.from_abi(args["auth"])
    department_id, nonce, deadline, signature = auth.as_abi()
    action = anchors.typed_action(
        "AnchorBatch",
        {
            "root": bytes(args["root"]),
            "size": int(args["size"]),
            "metadataHash": bytes(args["metadataHash"]),
        },
        department_id=department_id,
        nonce=nonce,
        deadline=deadline,
    )
    return (
        "signature",
        action.recover(bytes(signature)),
        "0x" + bytes(signature).hex(),
        jsonable(action.full_message()),
    )


def anchored_claim(registration: Registration) -> tuple[BatchRecord, InclusionProof, bytes]:
    """The record, proof and root a batched registration (of a bundle) carries."""
    anchor = registration.anchor or {}
    try:
        record = BatchRecord.from_json(anchor["record"])
        proof = InclusionProof(
            index=int(anchor["leaf_index"]),
            tree_size=int(anchor["tree_size"]),
            hashes=tuple(bytes.fromhex(h[2:]) for h in anchor["proof"]),
        )
        return record, proof, bytes.fromhex(str(anchor["root"])[2:])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidProofError(f"the bundle's batched record is unreadable: {exc!r}") from exc


def check_anchored_offline(registration: Registration, content_hash: str) -> None:
    """Offline checks of a bundle's batched registration: the record is for these bytes and
    these claims, and its proof leads to the root the department signed."""
    record, proof, root = anchored_claim(registration)
    if "0x" + record.content_hash.hex() != content_hash.lower():
        raise InvalidProofError("the batched record is for another content hash")
    claimed = (
        registration.dataset_id.lower(),
        registration.version,
        registration.department_id,
        registration.metadata_hash.lower(),
        [(p["dataset_id"].lower(), int(p["version"])) for p in registration.parents],
    )
    recorded = (
        "0x" + record.dataset_id.hex(),
        record.version,
        record.department_id,
        "0x" + record.metadata_hash.hex(),
        [("0x" + d.hex(), v) for d, v in record.parents],
    )
    if claimed != recorded:
        raise InvalidProofError(
            "the registration's dataset, version, department, metadata or lineage differ "
            "from the record its proof is for"
        )
    check_inclusion(record, proof, root)
    signed_root = str(registration.typed_data.get("message", {}).get("root", "")).lower()
    if registration.authorised_by == "signature" and signed_root != "0x" + root.hex():
        raise InvalidProofError(f"the department signed root {signed_root}, not 0x{root.hex()}")
