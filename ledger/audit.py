"""Verifying many content hashes at once: the verifier's checks, the chain read in batches.

An audit asks about thousands of hashes. :class:`BulkVerifier` gives each the verdict
:class:`~ledger.verifier.Verifier` gives it (the same checks, built by the same functions:
:func:`~ledger.verifier.version_registration`, :func:`~ledger.anchoring.verify.record_registration`)
but reads the chain a few times per audit rather than a dozen times per hash, every read a
JSON-RPC batch (:mod:`ledger.rpc.client`) pinned to one block:

1. ``VersionAdded`` logs of all the hashes, by content-hash topic OR-lists;
2. for the datasets found: their ``VersionAdded`` logs by dataset topic (history completeness)
   and their stored state (withdrawn, history head) by ``eth_getStorageAt``;
3. the department registry's enrol and rotate events, once: every department's key timeline;
4. for batched candidates (records this service sent in batches): each root's stored anchor and
   ``BatchAnchored`` log, read once per root however many records it holds;
5. the transactions and block headers all of that points to, each once; a transaction's
   authorisation (EIP-712 signature recovery) is computed once.

Trust preconditions are the verifier's: the node serves the chain it names, the registry
addresses are the ones the auditor trusts. Candidates are only candidates: a batched record is
reported only once its proof leads to a root the department anchored.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from ledger.anchoring.queue import AnchoredCandidate
from ledger.anchoring.verify import (
    AnchorEvidence,
    anchor_authoriser,
    check_inclusion,
    record_registration,
)
from ledger.chain.clients import DatasetRegistryClient, DepartmentRegistryClient
from ledger.chain.clients.anchors import AnchorRegistryClient
from ledger.chain.clients.base import ContractClient
from ledger.chain.deploy import Ledger
from ledger.chain.types import AnchorRecord, Event
from ledger.errors import ChainError, InvalidProofError
from ledger.registration import Registration
from ledger.rpc.client import Call, JsonRpc
from ledger.verifier import (
    Authoriser,
    Verdict,
    Verifier,
    dataset_authoriser,
    history_matches,
    version_registration,
)

log = logging.getLogger(__name__)

#: Topics per OR-list in one ``eth_getLogs`` (nodes bound a filter's size; this stays small).
TOPICS_PER_QUERY: Final = 1_000

_VERSION_ADDED = (
    "0x"
    + keccak(
        text="VersionAdded(bytes32,bytes32,uint64,uint32,bytes32,(bytes32,uint32)[],bytes32)"
    ).hex()
)
_ENROLLED = "0x" + keccak(text="DepartmentEnrolled(uint64,address,string)").hex()
_ROTATED = "0x" + keccak(text="DepartmentKeyRotated(uint64,address,address)").hex()
_BATCH_ANCHORED = "0x" + keccak(text="BatchAnchored(bytes32,uint64,uint64,bytes32)").hex()


@dataclass(frozen=True, slots=True)
class Audit:
    """Verdicts for a list of hashes (same order), all read at one block."""

    block_number: int
    verdicts: list[Verdict]


class ChainFacts:
    """What does not change once read, kept between audits (bounded, thread-safe):

    * a transaction's authoriser, by transaction hash (the hash commits to the input and the
      signature the authoriser is computed from);
    * a block's time, by block hash;
    * an anchor's stored record, by root and the hash of the block its ``BatchAnchored`` log is
      in (an anchor is written once; the log is looked up on every audit, so an anchor a reorg
      removed is not found, whatever is kept here).
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._values: dict[tuple[str, Any], Any] = {}

    def get(self, kind: str, key: Any) -> Any | None:
        return self._values.get((kind, key))

    def put(self, kind: str, key: Any, value: Any) -> None:
        with self._lock:
            self._values[(kind, key)] = value
            while len(self._values) > self.capacity:
                del self._values[next(iter(self._values))]


class BulkVerifier:
    """Answers "who registered these bytes, and can I trust that?" for many hashes at once."""

    def __init__(
        self,
        rpc: JsonRpc,
        *,
        datasets: DatasetRegistryClient,
        departments: DepartmentRegistryClient,
        anchors: AnchorRegistryClient | None = None,
        start_block: int = 0,
        facts: ChainFacts | None = None,
    ) -> None:
        self.rpc = rpc
        self.datasets = datasets
        self.departments = departments
        self.anchors = anchors
        self.start_block = start_block
        self.facts = facts if facts is not None else ChainFacts()

    @classmethod
    def for_ledger(
        cls, ledger: Ledger, rpc: JsonRpc, *, facts: ChainFacts | None = None
    ) -> BulkVerifier:
        return cls(
            rpc,
            datasets=ledger.datasets,
            departments=ledger.departments,
            anchors=ledger.anchors,
            start_block=ledger.deployment.start_block,
            facts=facts,
        )

    @classmethod
    def like(cls, verifier: Verifier, rpc: JsonRpc) -> BulkVerifier:
        """The bulk form of ``verifier`` (same registries and first block)."""
        return cls(
            rpc,
            datasets=verifier.datasets,
            departments=verifier.departments,
            anchors=verifier.anchors,
            start_block=verifier.start_block,
        )

    def verify_many(
        self,
        digests: Sequence[bytes],
        candidates: Mapping[str, Sequence[AnchoredCandidate]] | None = None,
        *,
        block: int | None = None,
    ) -> Audit:
        """The verdict of each of ``digests`` (raw 32 bytes), as of ``block`` (the node's
        latest if None).

        ``candidates`` are batched records by 0x-hex content hash (the service's); each is
        proven against the chain or left out."""
        if block is None:
            block = _quantity(self._one("eth_blockNumber", []))
        reading = _Reading(self, block)
        wanted = list(dict.fromkeys(bytes(d) for d in digests))
        events = reading.version_events_of_contents(wanted)
        dataset_ids = {bytes(e.args["datasetId"]) for e in events}
        complete = reading.histories(dataset_ids)
        batched = {k.lower(): list(v) for k, v in (candidates or {}).items() if v}
        evidence = reading.anchors({c.root for group in batched.values() for c in group})
        reading.fetch_transactions_and_blocks(
            [(e.tx_hash, e.block_number, e.block_hash) for e in events]
            + [(ev.tx_hash, ev.block_number, ev.block_hash) for ev in evidence.values()]
        )
        keys = reading.key_timelines()
        by_content: dict[bytes, list[Registration]] = {d: [] for d in wanted}
        for event in events:
            dataset_id = bytes(event.args["datasetId"])
            department = int(event.args["department"])
            withdrawn, history_complete = complete[dataset_id]
            by_content[bytes(event.args["contentHash"])].append(
                version_registration(
                    self.datasets,
                    event,
                    authoriser=reading.dataset_authoriser(event.tx_hash),
                    department_key=keys.at(department, event.block_number, event.log_index),
                    withdrawn=withdrawn,
                    history_complete=history_complete,
                    block_time=reading.block_time(event.block_hash),
                )
            )
        for content, group in batched.items():
            registrations = by_content.get(bytes.fromhex(content[2:]))
            if registrations is None:
                continue
            for candidate in group:
                proven = _prove(candidate, evidence, reading, keys)
                if proven is not None:
                    registrations.append(proven)
        verdicts = []
        for digest in (bytes(d) for d in digests):
            registrations = sorted(
                by_content[digest],
                key=lambda r: (r.block_number, r.log_index, (r.anchor or {}).get("leaf_index", 0)),
            )
            verdicts.append(Verdict(content_hash="0x" + digest.hex(), registrations=registrations))
        return Audit(block_number=block, verdicts=verdicts)

    def _one(self, method: str, params: list[Any]) -> Any:
        return self.rpc.batch([(method, params)])[0]


def _prove(
    candidate: AnchoredCandidate,
    evidence: Mapping[bytes, _RootEvidence],
    reading: _Reading,
    keys: _KeyTimelines,
) -> Registration | None:
    found = evidence.get(candidate.root)
    try:
        digest = candidate.record.digest()
        check_inclusion(candidate.record, candidate.proof, candidate.root, digest=digest)
        if found is None:
            raise InvalidProofError(
                f"no batch with root 0x{candidate.root.hex()} is anchored on chain"
            )
        return record_registration(
            found.complete(reading, keys),
            candidate.record,
            candidate.proof,
            withdrawn=candidate.withdrawn,
            inclusion_checked=True,
            record_digest=digest,
        )
    except InvalidProofError as exc:
        # Not anchored yet (or not as recorded): the chain does not vouch for it, so it is
        # not a registration. Never answered from our records alone.
        log.info(
            "audit: batched record of 0x%s not proven: %s", candidate.record.content_hash.hex(), exc
        )
        return None


@dataclass(slots=True)
class _RootEvidence:
    """A root's anchor and log as read; completed (signer, key, time) on first use."""

    root: bytes
    anchor: AnchorRecord
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int
    done: AnchorEvidence | None = None

    def complete(self, reading: _Reading, keys: _KeyTimelines) -> AnchorEvidence:
        if self.done is None:
            self.done = AnchorEvidence(
                root=self.root,
                anchor=self.anchor,
                contract=self.contract,
                chain_id=reading.chain_id,
                tx_hash=self.tx_hash,
                block_number=self.block_number,
                block_hash=self.block_hash,
                block_time=reading.block_time(self.block_hash),
                log_index=self.log_index,
                authoriser=reading.anchor_authoriser(self.tx_hash),
                department_key=keys.at(self.anchor.department, self.block_number, self.log_index),
            )
        return self.done


class _KeyTimelines:
    """Every department's keys in force, from its enrol and rotate events."""

    def __init__(self, events: Iterable[Event]) -> None:
        self._positions: dict[int, list[tuple[int, int]]] = {}
        self._keys: dict[int, list[str]] = {}
        for event in sorted(events, key=lambda e: (e.block_number, e.log_index)):
            if event.name == "DepartmentEnrolled":
                key = str(event.args["signer"])
            elif event.name == "DepartmentKeyRotated":
                key = str(event.args["newSigner"])
            else:
                continue
            department = int(event.args["departmentId"])
            self._positions.setdefault(department, []).append((event.block_number, event.log_index))
            self._keys.setdefault(department, []).append(key)

    def at(self, department: int, block_number: int, log_index: int) -> str:
        """As :func:`ledger.verifier.key_in_force`: the key just before that log, "" if none."""
        positions = self._positions.get(department, [])
        found = bisect.bisect_right(positions, (block_number, log_index))
        return self._keys[department][found - 1] if found else ""


class _Reading:
    """One audit's reads, all at block ``block``; each thing read once."""

    def __init__(self, verifier: BulkVerifier, block: int) -> None:
        self.v = verifier
        self.block = block
        self.chain_id = verifier.datasets.chain.chain_id
        self.facts = verifier.facts
        self._txs: dict[str, dict[str, Any]] = {}

    def _range(self) -> dict[str, Any]:
        return {"fromBlock": hex(self.v.start_block), "toBlock": hex(self.block)}

    def _logs(self, client: ContractClient, topic_lists: list[list[Any]]) -> list[Event]:
        """The client's events matching each topic filter, all in one batch."""
        calls: list[Call] = [
            ("eth_getLogs", [{"address": client.address, **self._range(), "topics": topics}])
            for topics in topic_lists
        ]
        found: list[Event] = []
        for logs in self.v.rpc.batch(calls) if calls else []:
            found.extend(_decode(client, logs))
        return found

    def version_events_of_contents(self, contents: list[bytes]) -> list[Event]:
        topics = ["0x" + c.hex() for c in contents]
        return self._logs(
            self.v.datasets,
            [[_VERSION_ADDED, None, chunk] for chunk in _chunks(topics, TOPICS_PER_QUERY)],
        )

    def histories(self, dataset_ids: set[bytes]) -> dict[bytes, tuple[bool, bool]]:
        """(withdrawn, history complete) of each dataset, from its logs and its storage."""
        ids = sorted(dataset_ids)
        if not ids:
            return {}
        topics = ["0x" + d.hex() for d in ids]
        by_dataset: dict[bytes, list[Event]] = {d: [] for d in ids}
        for event in self._logs(
            self.v.datasets,
            [[_VERSION_ADDED, chunk] for chunk in _chunks(topics, TOPICS_PER_QUERY)],
        ):
            by_dataset.setdefault(bytes(event.args["datasetId"]), []).append(event)
        stored = {
            d: self.v.datasets.dataset_from_storage(d, entry)
            for d, entry in self._structs(self.v.datasets, "_datasets", ids).items()
        }
        return {
            d: (
                stored[d].withdrawn,
                history_matches(by_dataset[d], stored[d].history_head),
            )
            for d in ids
        }

    def anchors(self, roots: set[bytes]) -> dict[bytes, _RootEvidence]:
        """Each root's stored anchor and its one ``BatchAnchored`` log (roots with either
        missing, or with other than one log, are left out: nothing under them is proven)."""
        anchors = self.v.anchors
        if not roots:
            return {}
        if anchors is None:
            raise InvalidProofError("no anchor registry is known to check a batched record")
        ordered = sorted(roots)
        logs: dict[bytes, list[Event]] = {}
        topics = ["0x" + r.hex() for r in ordered]
        for event in self._logs(
            anchors, [[_BATCH_ANCHORED, chunk] for chunk in _chunks(topics, TOPICS_PER_QUERY)]
        ):
            logs.setdefault(bytes(event.args["root"]), []).append(event)
        logged = [root for root in ordered if len(logs.get(root, [])) == 1]
        records: dict[bytes, AnchorRecord] = {}
        unread = []
        for root in logged:
            kept = self.facts.get("anchor", (root, logs[root][0].block_hash))
            if kept is not None:
                records[root] = kept
            else:
                unread.append(root)
        for root, stored in self._structs(anchors, "_anchors", unread).items():
            records[root] = anchors.anchor_from_storage(root, stored)
            if records[root].department != 0:
                self.facts.put("anchor", (root, logs[root][0].block_hash), records[root])
        found = {}
        for root in logged:
            anchor = records[root]
            if anchor.department == 0:
                continue
            event = logs[root][0]
            found[root] = _RootEvidence(
                root=root,
                anchor=anchor,
                contract=anchors.address,
                tx_hash=event.tx_hash,
                block_number=event.block_number,
                block_hash=event.block_hash,
                log_index=event.log_index,
            )
        return found

    def _structs(
        self, client: ContractClient, variable: str, keys: list[bytes]
    ) -> dict[bytes, dict[str, Any]]:
        """``variable[key]`` for each key, every slot read in one batch at the audit's block."""
        mapping = client.storage_mapping(variable)
        member_slots = sorted({m.slot for m in mapping.members})
        firsts = {key: mapping.entry_slot(key) for key in keys}
        slots = [first + offset for first in firsts.values() for offset in member_slots]
        words = self.v.rpc.batch(
            [("eth_getStorageAt", [client.address, hex(slot), hex(self.block)]) for slot in slots]
        )
        by_slot = {
            slot: bytes(HexBytes(word)).rjust(32, b"\0")
            for slot, word in zip(slots, words, strict=True)
        }
        return {key: mapping.read(key, lambda slot: by_slot[slot]) for key in keys}

    def key_timelines(self) -> _KeyTimelines:
        return _KeyTimelines(self._logs(self.v.departments, [[[_ENROLLED, _ROTATED]]]))

    def fetch_transactions_and_blocks(self, wanted: list[tuple[str, int, str]]) -> None:
        """Read the transactions whose authoriser and the blocks whose time is not known yet
        (``wanted``: transaction hash, block number and hash of each event)."""
        facts = self.facts
        hashes = sorted({h for h, _, _ in wanted if facts.get("authoriser", h) is None})
        blocks = sorted({(n, b) for _, n, b in wanted if facts.get("block-time", b) is None})
        answers = self.v.rpc.batch(
            [("eth_getTransactionByHash", [h]) for h in hashes]
            + [("eth_getBlockByNumber", [hex(n), False]) for n, _ in blocks]
        )
        for tx_hash, tx in zip(hashes, answers[: len(hashes)], strict=True):
            if tx is None:
                raise InvalidProofError(f"the node has no transaction {tx_hash}")
            self._txs[tx_hash] = tx
        for (number, block_hash), header in zip(blocks, answers[len(hashes) :], strict=True):
            if header is None or str(header["hash"]).lower() != block_hash.lower():
                raise ChainError(
                    f"block {number} is no longer {block_hash}: the chain reorganised while "
                    "it was read; ask again"
                )
            facts.put("block-time", block_hash, _quantity(header["timestamp"]))

    def block_time(self, block_hash: str) -> int:
        found = self.facts.get("block-time", block_hash)
        assert found is not None, "fetch_transactions_and_blocks reads every block first"
        return int(found)

    def dataset_authoriser(self, tx_hash: str) -> Authoriser:
        return self._authoriser(tx_hash, self.v.datasets, dataset_authoriser)

    def anchor_authoriser(self, tx_hash: str) -> Authoriser:
        assert self.v.anchors is not None
        return self._authoriser(tx_hash, self.v.anchors, anchor_authoriser)

    def _authoriser(self, tx_hash: str, client: Any, derive: Any) -> Authoriser:
        found = self.facts.get("authoriser", tx_hash)
        if found is None:
            tx = self._txs[tx_hash]
            found = derive(client, bytes(HexBytes(tx["input"])), _checksummed(tx["from"]))
            self.facts.put("authoriser", tx_hash, found)
        return cast(Authoriser, found)


def _decode(client: ContractClient, logs: list[dict[str, Any]]) -> list[Event]:
    """A node's JSON logs as the client's events (web3's log shape, built from the JSON)."""
    shaped = [
        {
            "address": client.address,
            "topics": [HexBytes(t) for t in entry["topics"]],
            "data": HexBytes(entry["data"]),
            "blockNumber": _quantity(entry["blockNumber"]),
            "blockHash": HexBytes(entry["blockHash"]),
            "transactionHash": HexBytes(entry["transactionHash"]),
            "transactionIndex": _quantity(entry["transactionIndex"]),
            "logIndex": _quantity(entry["logIndex"]),
        }
        for entry in logs
        if str(entry["address"]).lower() == client.address.lower() and not entry.get("removed")
    ]
    return client.decode_events(shaped)


def _checksummed(address: str) -> str:
    return str(to_checksum_address(address))


def _quantity(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


__all__ = ["TOPICS_PER_QUERY", "Audit", "BulkVerifier", "ChainFacts"]
