"""Verification against the chain, for auditors who trust the chain and not our server.

Trust preconditions: the caller trusts the RPC endpoint to serve the chain it names (any node
of the consortium will do, and answers can be cross-checked on another), and the contract
address. Nothing here reads provledger's database or API.

For a content hash the verifier finds every registration (``VersionAdded`` logs by the indexed
content-hash topic, earliest first) and, for each, establishes:

* **who**: the registering department and the key that authorised it. For a relayed
  (``…BySig``) transaction the department's EIP-712 signature is recovered from the calldata;
  for a direct call the transaction's sender is the department key. Either must equal the
  department's key *at that block*, rebuilt from the registry's enrol/rotate events;
* **completeness**: the dataset's versions, re-hashed into the history chain, end exactly at the
  ``historyHead`` the contract stores, so no node can hide a version by withholding a log;
* **status**: withdrawn or not, and the lineage (parents) the version declared;
* **where**: chain id, contract, tx hash, block number and hash, block time, log index.

``ProofBundle`` packages all of it as JSON; :func:`check_bundle` re-checks the hash and the
signatures with no network, and everything else against any RPC endpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from ledger.anchoring.records import BatchRecord
from ledger.anchoring.verify import (
    anchored_claim,
    anchored_registration,
    check_anchored_offline,
)
from ledger.chain.backend import Chain
from ledger.chain.clients import DatasetRegistryClient, DepartmentRegistryClient
from ledger.chain.clients.anchors import AnchorRegistryClient
from ledger.chain.deploy import Ledger
from ledger.chain.types import Authorization, Event, VersionRef
from ledger.encoding import jsonable
from ledger.errors import InvalidProofError
from ledger.hashing import Digest
from ledger.jsonguard import loads
from ledger.merkle import InclusionProof
from ledger.registration import Registration

__all__ = ["BUNDLE_FORMAT", "Registration", "Verdict", "Verifier"]

BUNDLE_FORMAT = "provledger-proof-bundle/1"
_REGISTRATION_FIELDS = tuple(f.name for f in fields(Registration))


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The answer for one content hash: every registration, earliest first."""

    content_hash: str
    registrations: list[Registration] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return bool(self.registrations)

    @property
    def authentic(self) -> bool:
        return self.matched and all(r.authentic for r in self.registrations)

    @property
    def status(self) -> str:
        """The verdict in one word, worst first (what an audit report counts):
        ``not-registered``; ``signature-invalid`` (a registration was not authorised by its
        department's key of the time); ``history-incomplete`` (a node withheld a version);
        ``withdrawn`` (every registration's dataset is withdrawn); else ``matched``."""
        if not self.matched:
            return "not-registered"
        if any(r.signer.lower() != r.department_key.lower() for r in self.registrations):
            return "signature-invalid"
        if not all(r.history_complete for r in self.registrations):
            return "history-incomplete"
        if all(r.withdrawn for r in self.registrations):
            return "withdrawn"
        return "matched"

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Verdict:
        """The verdict :meth:`to_dict` wrote (a bundle, or an API answer)."""
        return cls(
            content_hash=document["content_hash"],
            registrations=[
                Registration(**{k: r[k] for k in _REGISTRATION_FIELDS if k in r})
                for r in document["registrations"]
            ],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": BUNDLE_FORMAT,
            "content_hash": self.content_hash,
            "matched": self.matched,
            "authentic": self.authentic,
            # Shallow: a registration's nested documents are built once and never changed, so
            # they are shared, not deep-copied as asdict would (a bulk audit makes thousands).
            "registrations": [
                {name: getattr(r, name) for name in _REGISTRATION_FIELDS}
                for r in self.registrations
            ],
        }


class Verifier:
    """Answers "who registered these bytes, and can I trust that?" from chain data alone."""

    def __init__(
        self,
        *,
        chain: Chain,
        datasets: DatasetRegistryClient,
        departments: DepartmentRegistryClient,
        anchors: AnchorRegistryClient | None = None,
        start_block: int = 0,
    ) -> None:
        self.chain = chain
        self.w3 = chain.w3
        self.datasets = datasets
        self.departments = departments
        self.anchors = anchors
        self.start_block = start_block

    @classmethod
    def for_ledger(cls, ledger: Ledger) -> Verifier:
        return cls(
            chain=ledger.chain,
            datasets=ledger.datasets,
            departments=ledger.departments,
            anchors=ledger.anchors,
            start_block=ledger.deployment.start_block,
        )

    @classmethod
    def at(cls, chain: Chain, dataset_registry: str, *, start_block: int = 0) -> Verifier:
        """Knowing only the dataset registry's address: it names its department registry."""
        datasets = DatasetRegistryClient(chain, dataset_registry)
        registry = chain.call(lambda: datasets.contract.functions.departments().call())
        return cls(
            chain=chain,
            datasets=datasets,
            departments=DepartmentRegistryClient(chain, registry),
            start_block=start_block,
        )

    def verify(self, content_hash: Digest | bytes) -> Verdict:
        raw = bytes(content_hash)
        events = self.datasets.registrations_of(raw, from_block=self.start_block)
        heads: dict[str, bool] = {}
        registrations = []
        for event in events:
            dataset_hex = "0x" + bytes(event.args["datasetId"]).hex()
            if dataset_hex not in heads:
                heads[dataset_hex] = self.history_is_complete(bytes(event.args["datasetId"]))
            registrations.append(self._registration(event, heads[dataset_hex]))
        return Verdict(content_hash="0x" + raw.hex(), registrations=registrations)

    def verify_anchored(
        self, record: BatchRecord, proof: InclusionProof, root: bytes, *, withdrawn: bool = False
    ) -> Registration:
        """A batched record's registration, proven against the anchored root on chain."""
        return anchored_registration(
            self, self.anchors_for(None), record, proof, root, withdrawn=withdrawn
        )

    def anchors_for(self, address: str | None) -> AnchorRegistryClient:
        """The anchor registry: the ledger's, or the one at ``address`` if it answers to the same
        department registry (a bundle names it; only then do its roots speak for departments)."""
        if address is None or (
            self.anchors is not None and address.lower() == self.anchors.address.lower()
        ):
            if self.anchors is None:
                raise InvalidProofError("no anchor registry is known to check a batched record")
            return self.anchors
        anchors = AnchorRegistryClient(self.chain, address)
        registry = self.chain.call(lambda: anchors.contract.functions.departments().call())
        if str(registry).lower() != self.departments.address.lower():
            raise InvalidProofError(
                f"the anchor registry {address} answers to department registry {registry}, "
                f"not {self.departments.address}"
            )
        return anchors

    # --- the parts ----------------------------------------------------------------------------

    def _registration(self, event: Event, history_complete: bool) -> Registration:
        tx = self.w3.eth.get_transaction(HexBytes(event.tx_hash))
        block = self.w3.eth.get_block(event.block_number)
        return version_registration(
            self.datasets,
            event,
            authoriser=dataset_authoriser(self.datasets, bytes(tx["input"]), str(tx["from"])),
            department_key=self.department_key_at(
                int(event.args["department"]), event.block_number, event.log_index
            ),
            withdrawn=self.datasets.dataset(bytes(event.args["datasetId"])).withdrawn,
            history_complete=history_complete,
            block_time=int(block["timestamp"]),
        )

    def department_key_at(
        self, department_id: int, block_number: int, log_index: int | None = None
    ) -> str:
        """The department's signing key in force at ``block_number``, from registry events.

        With ``log_index``, the key in force just before that log of the block: a rotation
        mined later in the same block does not reach back to the actions ahead of it.
        """
        registry = self.departments
        topic = "0x" + abi_encode(["uint64"], [department_id]).hex()
        logs = self.w3.eth.get_logs(
            {
                "address": registry.address,
                "fromBlock": self.start_block,
                "toBlock": block_number,
                "topics": [None, topic],
            }
        )
        return key_in_force(registry.decode_events(logs), block_number, log_index)

    def history_is_complete(self, dataset_id: bytes) -> bool:
        """Re-hash every ``VersionAdded`` of the dataset; the chain must end at the stored head."""
        datasets = self.datasets
        topic0 = (
            "0x"
            + keccak(
                text="VersionAdded(bytes32,bytes32,uint64,uint32,bytes32,(bytes32,uint32)[],bytes32)"
            ).hex()
        )
        logs = self.w3.eth.get_logs(
            {
                "address": datasets.address,
                "fromBlock": self.start_block,
                "toBlock": "latest",
                "topics": [topic0, "0x" + dataset_id.hex()],
            }
        )
        return history_matches(
            datasets.decode_events(logs), datasets.dataset(dataset_id).history_head
        )


Authoriser = tuple[str, str, str, dict[str, Any]]


def version_registration(
    datasets: DatasetRegistryClient,
    event: Event,
    *,
    authoriser: Authoriser,
    department_key: str,
    withdrawn: bool,
    history_complete: bool,
    block_time: int,
) -> Registration:
    """The registration a ``VersionAdded`` event makes, given what was read about it: who
    authorised its transaction, the department's key at its block, the dataset's state."""
    authorised_by, signer, signature, typed_data = authoriser
    return Registration(
        dataset_id="0x" + bytes(event.args["datasetId"]).hex(),
        version=int(event.args["version"]),
        department_id=int(event.args["department"]),
        department_key=department_key,
        authorised_by=authorised_by,
        signer=signer,
        signature=signature,
        typed_data=typed_data,
        metadata_hash="0x" + bytes(event.args["metadataHash"]).hex(),
        parents=[
            {"dataset_id": "0x" + bytes(p["datasetId"]).hex(), "version": int(p["version"])}
            for p in event.args["parents"]
        ],
        withdrawn=withdrawn,
        history_complete=history_complete,
        chain_id=datasets.chain.chain_id,
        contract=datasets.address,
        tx_hash=event.tx_hash,
        block_number=event.block_number,
        block_hash=event.block_hash,
        block_time=block_time,
        log_index=event.log_index,
    )


def dataset_authoriser(datasets: DatasetRegistryClient, data: bytes, sender: str) -> Authoriser:
    """Who authorised a dataset registry transaction with input ``data`` sent by ``sender``:
    the EIP-712 signer of a relayed call (recovered), or the sender of a direct one."""
    name, args = datasets.decode_call(data)
    if not name.endswith("BySig"):
        return "sender", sender, "", {}
    auth = Authorization.from_abi(args["auth"])
    department_id, nonce, deadline, signature = auth.as_abi()
    if name == "createDatasetBySig":
        content, meta, parents = _version_parts(args["first"])
        primary_type = "CreateDataset"
        fields = {
            "salt": bytes(args["salt"]),
            "classification": int(args["classification"]),
            "metadataHash": bytes(args["metadataHash"]),
            "contentHash": content,
            "versionMetadataHash": meta,
            "parents": parents,
        }
    else:
        content, meta, parents = _version_parts(args["version"])
        primary_type = "AddVersion"
        fields = {
            "datasetId": bytes(args["datasetId"]),
            "contentHash": content,
            "metadataHash": meta,
            "parents": parents,
        }
    action = datasets.typed_action(
        primary_type, fields, department_id=department_id, nonce=nonce, deadline=deadline
    )
    document = jsonable(action.full_message())
    return "signature", action.recover(bytes(signature)), "0x" + bytes(signature).hex(), document


def key_in_force(events: list[Event], block_number: int, log_index: int | None = None) -> str:
    """A department's key just before log ``log_index`` of ``block_number`` (after the whole
    block if None), from its enrol and rotate events (any order); "" before its enrolment."""
    until = (block_number, log_index if log_index is not None else float("inf"))
    key = ""
    for event in sorted(events, key=lambda e: (e.block_number, e.log_index)):
        if (event.block_number, event.log_index) > until:
            break
        if event.name == "DepartmentEnrolled":
            key = str(event.args["signer"])
        elif event.name == "DepartmentKeyRotated":
            key = str(event.args["newSigner"])
    return key


def history_matches(version_events: list[Event], stored_head: bytes) -> bool:
    """Whether a dataset's ``VersionAdded`` events, re-hashed in order, end at the history head
    the contract stores: versions numbered 1, 2, … with none missing or extra."""
    events = sorted(version_events, key=lambda e: (e.block_number, e.log_index))
    head = bytes(32)
    for expected_number, event in enumerate(events, start=1):
        if int(event.args["version"]) != expected_number:
            return False
        head = history_step(
            head,
            bytes(event.args["contentHash"]),
            bytes(event.args["metadataHash"]),
            [VersionRef(bytes(p["datasetId"]), int(p["version"])) for p in event.args["parents"]],
        )
    return head == stored_head


#: What a summary keeps of each registration (the full verdict, with the signed document and
#: the inclusion proof, is ``POST /v1/verify``'s answer or ``"detail": "full"``).
_SUMMARY_FIELDS = (
    "dataset_id",
    "version",
    "department_id",
    "department_key",
    "signer",
    "authorised_by",
    "history_complete",
    "withdrawn",
    "chain_id",
    "contract",
    "tx_hash",
    "block_number",
    "block_time",
    "log_index",
)


def verdict_summary(answer: dict[str, Any]) -> dict[str, Any]:
    """A verdict as a bulk audit reports it: the status and, for each registration, who, what
    and where (a batched one also its root and leaf index); no signed documents or proofs."""
    registrations = []
    for registration in answer["registrations"]:
        brief = {name: registration[name] for name in _SUMMARY_FIELDS}
        anchor = registration.get("anchor")
        if anchor is not None:
            brief["anchor"] = {"root": anchor["root"], "leaf_index": anchor["leaf_index"]}
        registrations.append(brief)
    return {
        "content_hash": answer["content_hash"],
        "status": answer.get("status") or Verdict.from_dict(answer).status,
        "matched": answer["matched"],
        "authentic": answer["authentic"],
        "registrations": registrations,
    }


VERSION_REF_TYPEHASH = keccak(text="VersionRef(bytes32 datasetId,uint32 version)")


def parents_hash(parents: list[VersionRef]) -> bytes:
    """The EIP-712 hash of a ``VersionRef[]``, as the contract computes it."""
    return keccak(
        b"".join(
            keccak(
                abi_encode(
                    ["bytes32", "bytes32", "uint32"],
                    [VERSION_REF_TYPEHASH, p.dataset_id, p.version],
                )
            )
            for p in parents
        )
    )


def history_step(
    head: bytes, content_hash: bytes, metadata_hash: bytes, parents: list[VersionRef]
) -> bytes:
    """One link of a dataset's history chain (see ``IDatasetRegistry.VersionAdded``)."""
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "bytes32"],
            [head, content_hash, metadata_hash, parents_hash(parents)],
        )
    )


def _version_parts(value: Any) -> tuple[bytes, bytes, list[dict[str, Any]]]:
    if isinstance(value, dict):
        content, meta, parents = value["contentHash"], value["metadataHash"], value["parents"]
    else:
        content, meta, parents = value
    refs = [
        {
            "datasetId": bytes(p["datasetId"] if isinstance(p, dict) else p[0]),
            "version": int(p["version"] if isinstance(p, dict) else p[1]),
        }
        for p in parents
    ]
    return bytes(content), bytes(meta), refs


def write_bundle(verdict: Verdict) -> str:
    """The verdict as a self-contained JSON proof bundle."""
    return json.dumps(verdict.to_dict(), indent=2, sort_keys=True) + "\n"


def check_bundle(
    text: str, *, file_digest: Digest | None = None, verifier: Verifier | None = None
) -> Verdict:
    """Re-check a bundle: the file's hash (if given) offline, everything else against the chain
    when ``verifier`` is given. Raises :class:`InvalidProofError` saying what differs."""
    try:
        document = loads(text)
        if document.get("format") != BUNDLE_FORMAT:
            raise InvalidProofError(
                f"expected a {BUNDLE_FORMAT} bundle, got format {document.get('format')!r}"
            )
        claimed = Verdict(
            content_hash=document["content_hash"],
            registrations=[Registration(**r) for r in document["registrations"]],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidProofError(f"not a readable proof bundle: {exc}") from exc
    if file_digest is not None and file_digest.hex() != claimed.content_hash:
        raise InvalidProofError(
            f"the file hashes to {file_digest.hex()}, the bundle is for {claimed.content_hash}"
        )
    for registration in claimed.registrations:
        if registration.anchor is not None:
            check_anchored_offline(registration, claimed.content_hash)
        if registration.authorised_by == "signature":
            recovered = recover_typed_data(registration.typed_data, registration.signature)
            if recovered.lower() != registration.signer.lower():
                raise InvalidProofError(
                    f"the signature recovers to {recovered}, "
                    f"the bundle claims {registration.signer}"
                )
            message = registration.typed_data.get("message", {})
            if registration.anchor is None and (
                message.get("contentHash", "").lower() != claimed.content_hash.lower()
            ):
                raise InvalidProofError("the signed action is for another content hash")
        if registration.signer.lower() != registration.department_key.lower():
            raise InvalidProofError(
                f"version {registration.version} of {registration.dataset_id} was authorised by "
                f"{registration.signer}, expected the department key {registration.department_key}"
            )
    if verifier is None:
        return claimed
    fresh = verifier.verify(Digest.from_hex(claimed.content_hash))
    current = {(r.tx_hash, r.log_index): r for r in fresh.registrations}
    for registration in claimed.registrations:
        if registration.anchor is not None:
            record, proof, root = anchored_claim(registration)
            anchors = verifier.anchors_for(registration.contract)
            proven = anchored_registration(
                verifier, anchors, record, proof, root, withdrawn=registration.withdrawn
            )
            fresh.registrations.append(proven)
            current[(proven.tx_hash, proven.log_index)] = proven
        now = current.get((registration.tx_hash, registration.log_index))
        if now is None:
            raise InvalidProofError(
                f"the chain has no registration in tx {registration.tx_hash} "
                f"log {registration.log_index}"
            )
        for name in (
            "block_hash",
            "dataset_id",
            "version",
            "department_id",
            "department_key",
            "signer",
        ):
            expected, got = getattr(registration, name), getattr(now, name)
            if str(expected).lower() != str(got).lower():
                raise InvalidProofError(f"{name}: the bundle says {expected}, the chain says {got}")
    return fresh


def recover_typed_data(document: dict[str, Any], signature: str) -> str:
    """The signer of an EIP-712 document (bytes fields as 0x-hex), with no network."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    try:
        return str(
            Account.recover_message(
                encode_typed_data(full_message=document), signature=bytes.fromhex(signature[2:])
            )
        )
    except Exception as exc:
        raise InvalidProofError(f"the bundle's signature cannot be checked: {exc}") from exc
