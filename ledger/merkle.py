"""RFC 6962 / RFC 9162 Merkle trees over SHA-256, and their inclusion proofs.

The ledger anchors a batch of records on chain as one Merkle root; any single record can later
be shown to belong to the batch with a logarithmic inclusion proof, checked off chain here or
on chain by the Solidity verifier, which runs the same RFC 9162 §2.1.3.2 algorithm.

Why RFC 6962 (Certificate Transparency, restated as RFC 9162) and not a bespoke tree:

* **Interoperability.** It is the tree of Trillian, Rekor/sigstore and every CT log, so proofs
  can be checked with existing transparency-log tooling, and the implementation is tested
  against their published vectors rather than against itself.
* **Cheap on the EVM.** SHA-256 is a precompile costing 60 + 12 gas per 32-byte word, so each
  proof step (65 bytes hashed) costs about 100 gas plus call overhead.
* **Domain separation.** Leaves hash as ``SHA256(0x00 || leaf)`` and interior nodes as
  ``SHA256(0x01 || left || right)``. A 64-byte leaf that happens to equal two child hashes
  therefore never passes for an interior node, which defeats second-preimage forgeries.
* **Proofs bind the position.** Verification follows the leaf index and tree size, so a proof
  shows *where* a record sits in a batch. OpenZeppelin's ``MerkleProof`` hashes sorted pairs
  with keccak-256, which makes proofs order-free and says nothing about the index.

Trees of any size are allowed: the left subtree always holds the largest power of two of
leaves smaller than the size, and the empty tree's root is ``SHA256("")``.

This module is pure: it imports only the standard library.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.errors import InvalidDigestError, InvalidInputError, InvalidProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "InclusionProof",
    "MerkleTree",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "record_leaf_hash",
    "root",
    "root_from_inclusion_proof",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size in bytes of every leaf hash, node hash and root."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the tree with no leaves (RFC 9162 §2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(leaf: bytes) -> bytes:
    """Return ``SHA256(0x00 || leaf)``, the hash of a leaf of any length."""
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA256(0x01 || left || right)``, the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def record_leaf_hash(record_digest: bytes) -> bytes:
    """Return the leaf hash of a 32-byte record digest, as the on-chain verifier computes it.

    The contract takes the record digest as ``bytes32``, so unlike :func:`leaf_hash` this
    insists on exactly 32 bytes: anything else could never be proved on chain.
    """
    if len(record_digest) != HASH_SIZE:
        raise InvalidDigestError(f"expected {HASH_SIZE} bytes, got {len(record_digest)}")
    return leaf_hash(record_digest)


def root(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash of *leaves* (raw leaves, hashed here with :func:`leaf_hash`)."""
    return _root_of_range(leaves, 0, len(leaves))


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Proof that the leaf at ``index`` is in the tree of ``tree_size`` leaves.

    ``hashes`` is the RFC 9162 audit path: sibling hashes from the leaf's level up to the
    root's children. Construction checks the shape (index in range, 32-byte hashes, the
    exact number of hashes the index and size call for) and raises
    :class:`~ledger.errors.InvalidProofError` if it is wrong, so a malformed proof received
    from elsewhere fails early with a precise message.
    """

    index: int
    tree_size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.hashes, tuple):
            # A list (say, from JSON) would leave this frozen value mutable and unhashable.
            object.__setattr__(self, "hashes", tuple(self.hashes))
        _check_position(self.index, self.tree_size)
        _check_hashes(self.hashes)
        expected = _proof_length(self.index, self.tree_size)
        if len(self.hashes) != expected:
            raise InvalidProofError(
                f"wrong proof length for leaf {self.index} of {self.tree_size}: "
                f"expected {expected} hashes, got {len(self.hashes)}"
            )


def inclusion_proof(leaves: Sequence[bytes], index: int) -> InclusionProof:
    """Build the inclusion proof of ``leaves[index]``, following RFC 9162 §2.1.3.1.

    Costs O(n) hashing per call; to prove many leaves of one tree, build a
    :class:`MerkleTree` once instead.
    """
    size = len(leaves)
    _check_index(index, size)
    # PATH(m, D[lo:hi]) recurses into the half holding m and records the other half's root.
    # Walking down collects those roots top first; the audit path lists them bottom first.
    siblings: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _largest_power_of_two_below(hi - lo)
        if index < mid:
            siblings.append(_root_of_range(leaves, mid, hi))
            hi = mid
        else:
            siblings.append(_root_of_range(leaves, lo, mid))
            lo = mid
    siblings.reverse()
    return InclusionProof(index=index, tree_size=size, hashes=tuple(siblings))


def root_from_inclusion_proof(
    index: int, tree_size: int, leaf_hash: bytes, proof_hashes: Sequence[bytes]
) -> bytes:
    """Compute the root implied by a leaf hash and its audit path (RFC 9162 §2.1.3.2).

    Raises :class:`~ledger.errors.InvalidProofError` if the index is not below the tree size,
    a hash is not 32 bytes, or the path has the wrong number of hashes. The caller compares
    the result with a trusted root; :func:`verify_inclusion` does both.
    """
    _check_position(index, tree_size)
    _check_hashes((leaf_hash, *proof_hashes))
    # The RFC's algorithm, step for step, as the Solidity verifier runs it: fn walks up from
    # the leaf and sn from the last leaf; where they meet the path runs along the right border.
    fn, sn = index, tree_size - 1
    result = leaf_hash
    for sibling in proof_hashes:
        if sn == 0:
            raise _wrong_length(index, tree_size, len(proof_hashes))
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                # A right-border node with no right sibling: skip the levels it is promoted
                # through unchanged.
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _wrong_length(index, tree_size, len(proof_hashes))
    return result


def verify_inclusion(*, leaf: bytes, proof: InclusionProof, root: bytes) -> None:
    """Check that the raw *leaf* is in the tree with *root*, or raise ``InvalidProofError``."""
    _check_hashes((root,))
    computed = root_from_inclusion_proof(
        proof.index, proof.tree_size, leaf_hash(leaf), proof.hashes
    )
    if computed != root:
        raise InvalidProofError(
            f"inclusion proof for leaf {proof.index} of {proof.tree_size} does not verify: "
            f"expected root 0x{root.hex()}, computed 0x{computed.hex()}"
        )


class MerkleTree:
    """A Merkle tree built once and kept level by level, for proving many of its leaves.

    Building costs about 2n hashes; each :meth:`proof` then only reads stored hashes, so
    proving every leaf of a batch costs O(n log n) in total.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Iterable[bytes]) -> None:
        """Hash *leaves* (raw leaves, hashed with :func:`leaf_hash`) into a tree."""
        level = [leaf_hash(leaf) for leaf in leaves]
        levels = [level]
        while len(level) > 1:
            level = _parent_level(level)
            levels.append(level)
        self._levels: tuple[list[bytes], ...] = tuple(levels)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        """The Merkle tree hash; :data:`EMPTY_ROOT` for a tree without leaves."""
        top = self._levels[-1]
        return top[0] if top else EMPTY_ROOT

    def proof(self, index: int) -> InclusionProof:
        """Return the inclusion proof of leaf *index*; equal to :func:`inclusion_proof`."""
        _check_index(index, self.size)
        siblings: list[bytes] = []
        position = index
        for level in self._levels[:-1]:
            sibling = position ^ 1
            # The last node of an odd-length level has no sibling: it is promoted unchanged
            # and contributes nothing to the path.
            if sibling < len(level):
                siblings.append(level[sibling])
            position >>= 1
        return InclusionProof(index=index, tree_size=self.size, hashes=tuple(siblings))


def _parent_level(level: list[bytes]) -> list[bytes]:
    """Hash adjacent pairs; an unpaired last node moves up as it is.

    Promoting the odd node level by level builds exactly the RFC tree, whose left subtree
    always holds the largest power of two of leaves below the size.
    """
    parents = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def _root_of_range(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """Return the tree hash of ``leaves[lo:hi]`` iteratively, without copying the leaves."""
    if lo == hi:
        return EMPTY_ROOT
    level = [leaf_hash(leaves[i]) for i in range(lo, hi)]
    while len(level) > 1:
        level = _parent_level(level)
    return level[0]


def _largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two strictly less than *n* (for ``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _proof_length(index: int, tree_size: int) -> int:
    """Return the audit path length for *index* in a tree of *tree_size* leaves.

    Below the level where the paths to *index* and to the last leaf part, every level has a
    sibling; above it, only the levels where *index* descends to the right do.
    """
    inner = (index ^ (tree_size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _check_index(index: int, size: int) -> None:
    """Refuse to build a proof for a leaf the tree does not have."""
    if not 0 <= index < size:
        raise InvalidInputError(f"leaf index {index} is out of range for a tree of {size}")


def _check_position(index: int, tree_size: int) -> None:
    if index < 0 or tree_size < 0:
        raise InvalidProofError(f"negative leaf index or tree size: {index}, {tree_size}")
    if index >= tree_size:
        raise InvalidProofError(f"leaf index {index} is not below the tree size {tree_size}")


def _check_hashes(hashes: Iterable[bytes]) -> None:
    for value in hashes:
        if not isinstance(value, bytes):
            raise InvalidProofError(f"hashes must be bytes, got {type(value).__name__}")
        if len(value) != HASH_SIZE:
            raise InvalidProofError(f"hashes must be {HASH_SIZE} bytes, got {len(value)}")


def _wrong_length(index: int, tree_size: int, got: int) -> InvalidProofError:
    return InvalidProofError(
        f"wrong proof length for leaf {index} of {tree_size}: "
        f"expected {_proof_length(index, tree_size)} hashes, got {got}"
    )
