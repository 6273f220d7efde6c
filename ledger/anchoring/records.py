"""The batched record: one registration (dataset, version, lineage, owner) as a Merkle leaf.

A batched registration is not a ``VersionAdded`` event. Its department signs the root of a
batch, one transaction anchors that root (``AnchorRegistry.anchorBatchBySig``), and the record
is proven by its leaf: ``SHA-256`` over a fixed-width binary encoding of every field a user
sees, so the anchored root commits to who registered which bytes in which dataset and version,
derived from what. The leaf hash of the tree is then RFC 6962's ``SHA256(0x00 || digest)``.

Why this encoding and not per-record events: what must be on chain per record is only what
makes it provable, and the root does that at ~67 gas per record for 1,000 records
(``bench/RESULTS.md``), where even one 32-byte log per record costs over 1,000. The price is that
a batched record cannot be found by ``eth_getLogs`` on its content hash: an auditor needs its
proof bundle (or our API) to learn where it sits, and then checks everything against the chain.

The layout is fixed-width (no length ambiguity) and reproducible in Solidity with
``sha256(abi.encodePacked(...))`` of the same fields:

=======================  =====  =====================================================
field                    bytes  meaning
=======================  =====  =====================================================
``FORMAT`` tag            25     ``b"provledger.batch-record/1"``
kind                       1     1 create (dataset + first version), 2 version, 3 withdraw
department id              8     the registering (owning) department
dataset id                32     ``keccak256(abi.encode(departmentId, salt))``, as on chain
version                    4     1 for a create; the next number for a version; 0 withdraw
content hash              32     SHA-256 of the bytes (zero for a withdrawal)
metadata hash             32     the version's metadata commitment (a withdrawal's reason)
classification             1     0 public … 3 confidential (create only, else 0)
dataset metadata hash     32     the dataset's metadata commitment (create only, else 0)
salt                      32     the dataset id's salt (create only, else 0)
parent count               2     at most :data:`MAX_PARENTS`
each parent               36     dataset id (32) and version (4)
=======================  =====  =====================================================
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger.encoding import from_hex, to_hex
from ledger.errors import InvalidInputError
from ledger.merkle import InclusionProof, MerkleTree

FORMAT = b"provledger.batch-record/1"
#: The anchor's ``metadataHash``: names the leaf format, so a reader of the chain knows how to
#: interpret the root.
FORMAT_COMMITMENT = hashlib.sha256(FORMAT).digest()
MAX_PARENTS = 64  # as DatasetRegistry.MAX_PARENTS
ZERO = bytes(32)


class RecordKind(enum.IntEnum):
    CREATE = 1
    VERSION = 2
    WITHDRAW = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchRecord:
    """One batched registration, exactly the fields its leaf commits to."""

    kind: RecordKind
    department_id: int
    dataset_id: bytes
    version: int
    content_hash: bytes = ZERO
    metadata_hash: bytes = ZERO
    classification: int = 0
    dataset_metadata_hash: bytes = ZERO
    salt: bytes = ZERO
    parents: tuple[tuple[bytes, int], ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.parents, tuple):
            object.__setattr__(self, "parents", tuple((bytes(d), int(v)) for d, v in self.parents))
        for name in (
            "dataset_id",
            "content_hash",
            "metadata_hash",
            "dataset_metadata_hash",
            "salt",
        ):
            if len(getattr(self, name)) != 32:
                raise InvalidInputError(f"{name} must be 32 bytes, got {len(getattr(self, name))}")
        if not 1 <= self.department_id < 2**63:
            raise InvalidInputError(f"department id out of range: {self.department_id}")
        if not 0 <= self.version < 2**32:
            raise InvalidInputError(f"version must fit in 32 bits, got {self.version}")
        if not 0 <= self.classification <= 3:
            raise InvalidInputError(f"classification out of range: {self.classification}")
        if len(self.parents) > MAX_PARENTS:
            raise InvalidInputError(f"at most {MAX_PARENTS} parents, got {len(self.parents)}")
        for dataset_id, version in self.parents:
            if len(dataset_id) != 32 or not 1 <= version < 2**32:
                raise InvalidInputError(f"bad parent reference ({dataset_id.hex()}, {version})")
        self._check_kind()

    def _check_kind(self) -> None:
        if self.kind == RecordKind.CREATE:
            if self.version != 1 or self.content_hash == ZERO:
                raise InvalidInputError("a create record is version 1 with a content hash")
        elif self.kind == RecordKind.VERSION:
            if self.version < 2 or self.content_hash == ZERO:
                raise InvalidInputError(
                    "a version record is version 2 or later with a content hash"
                )
            if (self.classification, self.dataset_metadata_hash, self.salt) != (0, ZERO, ZERO):
                raise InvalidInputError("only a create record carries dataset fields")
        elif self.version != 0 or self.content_hash != ZERO or self.parents:
            raise InvalidInputError("a withdraw record carries only the dataset and a reason")

    def encode(self) -> bytes:
        """The leaf's fixed-width encoding (see the module docstring)."""
        head = struct.pack(
            ">BQ32sI32s32sB32s32sH",
            int(self.kind),
            self.department_id,
            self.dataset_id,
            self.version,
            self.content_hash,
            self.metadata_hash,
            self.classification,
            self.dataset_metadata_hash,
            self.salt,
            len(self.parents),
        )
        lineage = b"".join(struct.pack(">32sI", d, v) for d, v in self.parents)
        return FORMAT + head + lineage

    def digest(self) -> bytes:
        """The 32-byte record digest: the value ``verifyInclusion`` takes as ``record``."""
        return hashlib.sha256(self.encode()).digest()

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind.name.lower(),
            "department_id": self.department_id,
            "dataset_id": to_hex(self.dataset_id),
            "version": self.version,
            "content_hash": to_hex(self.content_hash),
            "metadata_hash": to_hex(self.metadata_hash),
            "classification": self.classification,
            "dataset_metadata_hash": to_hex(self.dataset_metadata_hash),
            "salt": to_hex(self.salt),
            "parents": [{"dataset_id": to_hex(d), "version": v} for d, v in self.parents],
        }

    @classmethod
    def from_json(cls, document: dict[str, object]) -> BatchRecord:
        """Inverse of :meth:`to_json`; raises ``InvalidInputError`` on anything malformed."""
        try:
            parents = document.get("parents", [])
            assert isinstance(parents, list)
            return cls(
                kind=RecordKind[str(document["kind"]).upper()],
                department_id=int(str(document["department_id"])),
                dataset_id=from_hex(document["dataset_id"]),
                version=int(str(document["version"])),
                content_hash=from_hex(document["content_hash"]),
                metadata_hash=from_hex(document["metadata_hash"]),
                classification=int(str(document["classification"])),
                dataset_metadata_hash=from_hex(document["dataset_metadata_hash"]),
                salt=from_hex(document["salt"]),
                parents=tuple((from_hex(p["dataset_id"]), int(p["version"])) for p in parents),
            )
        except (KeyError, ValueError, TypeError, AssertionError) as exc:
            raise InvalidInputError(f"not a batch record: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Batch:
    """A flushed batch: its root and each record's inclusion proof, in leaf order."""

    root: bytes
    proofs: tuple[InclusionProof, ...]

    @property
    def size(self) -> int:
        return len(self.proofs)


def build_batch(digests: Sequence[bytes]) -> Batch:
    """The RFC 6962 tree over record digests (leaf ``i`` is ``digests[i]``) and every proof."""
    if not digests:
        raise InvalidInputError("a batch holds at least one record")
    tree = MerkleTree(digests)
    return Batch(root=tree.root, proofs=tuple(tree.proof(i) for i in range(tree.size)))
