"""Specification of ledger.merkle: RFC 6962 / RFC 9162 trees and inclusion proofs.

The known answers are the published Certificate Transparency test data (as used by
transparency-dev/merkle ``proof/verify_test.go``), never values computed by this code.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidDigestError, InvalidInputError, InvalidProofError
from ledger.merkle import (
    EMPTY_ROOT,
    InclusionProof,
    MerkleTree,
    inclusion_proof,
    leaf_hash,
    node_hash,
    record_leaf_hash,
    root,
    root_from_inclusion_proof,
    verify_inclusion,
)

# --- published vectors ---------------------------------------------------------------------

LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]

# ROOTS[n] is the root of the tree of the first n LEAVES.
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]

# (index, tree size, audit path); the source numbers leaves from 1, these from 0.
PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
PUBLISHED_PROOFS = pytest.mark.parametrize(
    ("index", "size", "path"),
    [(i, n, tuple(bytes.fromhex(h) for h in p)) for i, n, p in PROOFS],
    ids=[f"leaf{i}-of-{n}" for i, n, _ in PROOFS],
)
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim that ``leaf`` sits at ``index`` of the tree of ``size`` leaves with ``root``."""

    leaf: bytes
    index: int
    size: int
    path: tuple[bytes, ...]
    root: bytes

    def verifies(self) -> bool:
        """Whether verification accepts; any InvalidProofError (shape or root) means no."""
        try:
            proof = InclusionProof(index=self.index, tree_size=self.size, hashes=self.path)
            verify_inclusion(leaf=self.leaf, proof=proof, root=self.root)
        except InvalidProofError:
            return False
        return True


# --- hashing and roots ---------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT == ROOTS[0] == hashlib.sha256(b"").digest()
    assert root([]) == ROOTS[0]
    assert MerkleTree([]).root == ROOTS[0]


def test_leaf_hash_prefixes_a_zero_byte() -> None:
    # A one-leaf tree's root is its leaf hash.
    assert leaf_hash(b"") == ROOTS[1]
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()


def test_node_hash_prefixes_a_one_byte() -> None:
    assert node_hash(leaf_hash(LEAVES[0]), leaf_hash(LEAVES[1])) == ROOTS[2]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_root_matches_the_published_root_for_every_size(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size]
    assert MerkleTree(LEAVES[:size]).root == ROOTS[size]
    assert MerkleTree(LEAVES[:size]).size == size


def test_root_handles_100k_leaves() -> None:
    leaves = [i.to_bytes(32, "big") for i in range(100_000)]
    assert root(leaves) == MerkleTree(leaves).root


def test_record_leaf_hash_hashes_a_32_byte_digest_as_a_leaf() -> None:
    digest = hashlib.sha256(b"record").digest()
    assert record_leaf_hash(digest) == hashlib.sha256(b"\x00" + digest).digest()


@pytest.mark.parametrize("size", [0, 31, 33])
def test_record_leaf_hash_insists_on_32_bytes(size: int) -> None:
    with pytest.raises(InvalidDigestError, match=f"expected 32 bytes, got {size}"):
        record_leaf_hash(bytes(size))


# --- published inclusion proofs ------------------------------------------------------------


@PUBLISHED_PROOFS
def test_inclusion_proof_matches_the_published_path(
    index: int, size: int, path: tuple[bytes, ...]
) -> None:
    assert inclusion_proof(LEAVES[:size], index) == InclusionProof(
        index=index, tree_size=size, hashes=path
    )
    assert MerkleTree(LEAVES[:size]).proof(index).hashes == path


@PUBLISHED_PROOFS
def test_published_path_leads_to_the_published_root(
    index: int, size: int, path: tuple[bytes, ...]
) -> None:
    assert root_from_inclusion_proof(index, size, leaf_hash(LEAVES[index]), path) == ROOTS[size]
    verify_inclusion(
        leaf=LEAVES[index],
        proof=InclusionProof(index=index, tree_size=size, hashes=path),
        root=ROOTS[size],
    )


@PUBLISHED_PROOFS
def test_corrupted_published_proofs_never_verify(
    index: int, size: int, path: tuple[bytes, ...]
) -> None:
    # The corruptions transparency-dev/merkle probes its verifier with.
    honest = Claim(leaf=LEAVES[index], index=index, size=size, path=path, root=ROOTS[size])
    change = functools.partial(dataclasses.replace, honest)
    probes = {
        "index - 1": change(index=index - 1),
        "index + 1": change(index=index + 1),
        "index ^ 2": change(index=index ^ 2),
        "size * 2": change(size=size * 2),
        "size // 2": change(size=size // 2),
        "wrong leaf": change(leaf=b"WrongLeaf"),
        "empty-tree root": change(root=EMPTY_ROOT),
        "unrelated root": change(root=SOME_HASH),
        "trailing garbage": change(path=(*path, b"")),
        "trailing root": change(path=(*path, honest.root)),
        "preceding garbage": change(path=(b"", *path)),
        "preceding root": change(path=(honest.root, *path)),
    }
    for i in range(len(path)):
        flipped = bytes([path[i][0] ^ 8]) + path[i][1:]
        probes[f"bit flipped in hash {i}"] = change(path=(*path[:i], flipped, *path[i + 1 :]))
    if path:
        probes["removed hash"] = change(path=path[:-1])
    if len(path) > 1:
        probes["inserted hash"] = change(path=(path[0], SOME_HASH, *path[1:]))

    assert honest.verifies()
    assert [name for name, claim in probes.items() if claim.verifies()] == []


# --- verification rules --------------------------------------------------------------------


def test_failed_verification_names_both_roots() -> None:
    proof = inclusion_proof(LEAVES, 3)
    with pytest.raises(InvalidProofError) as caught:
        verify_inclusion(leaf=LEAVES[3], proof=proof, root=SOME_HASH)
    assert f"expected root 0x{SOME_HASH.hex()}, computed 0x{ROOTS[8].hex()}" in str(caught.value)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (8, 8), (9, 8), (-1, 8), (0, -1)])
def test_index_must_lie_inside_the_tree(index: int, size: int) -> None:
    with pytest.raises(InvalidProofError):
        root_from_inclusion_proof(index, size, leaf_hash(b""), [])
    with pytest.raises(InvalidProofError):
        InclusionProof(index=index, tree_size=size, hashes=())


def test_index_at_the_tree_size_is_named_in_the_error() -> None:
    with pytest.raises(InvalidProofError, match="leaf index 8 is not below the tree size 8"):
        root_from_inclusion_proof(8, 8, leaf_hash(b""), [])


@PUBLISHED_PROOFS
def test_proof_length_must_match_index_and_size(
    index: int, size: int, path: tuple[bytes, ...]
) -> None:
    longer = (*path, SOME_HASH)
    message = f"expected {len(path)} hashes, got {len(longer)}"
    with pytest.raises(InvalidProofError, match=message):
        root_from_inclusion_proof(index, size, leaf_hash(LEAVES[index]), longer)
    with pytest.raises(InvalidProofError, match=message):
        InclusionProof(index=index, tree_size=size, hashes=longer)
    if path:
        shorter = path[:-1]
        message = f"expected {len(path)} hashes, got {len(shorter)}"
        with pytest.raises(InvalidProofError, match=message):
            root_from_inclusion_proof(index, size, leaf_hash(LEAVES[index]), shorter)
        with pytest.raises(InvalidProofError, match=message):
            InclusionProof(index=index, tree_size=size, hashes=shorter)


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), "00" * 32])
def test_every_hash_must_be_32_bytes(bad: bytes) -> None:
    path = inclusion_proof(LEAVES, 0).hashes
    with pytest.raises(InvalidProofError):
        root_from_inclusion_proof(0, 8, bad, path)
    with pytest.raises(InvalidProofError):
        root_from_inclusion_proof(0, 8, leaf_hash(LEAVES[0]), (bad, *path[1:]))
    with pytest.raises(InvalidProofError):
        verify_inclusion(leaf=LEAVES[0], proof=inclusion_proof(LEAVES, 0), root=bad)


def test_tree_size_must_come_from_a_trusted_source() -> None:
    # Leaf 0's path has the same shape in trees of 5 to 8 leaves, so the proof alone does not
    # pin the size: the verifier must take it from the anchored batch, as the contract does.
    path = inclusion_proof(LEAVES, 0).hashes
    computed = {root_from_inclusion_proof(0, n, leaf_hash(LEAVES[0]), path) for n in (5, 6, 7, 8)}
    assert computed == {ROOTS[8]}


# --- proof construction --------------------------------------------------------------------


@pytest.mark.parametrize("index", [-1, 3, 4])
def test_proofs_exist_only_for_leaves_of_the_tree(index: int) -> None:
    with pytest.raises(InvalidInputError, match="out of range"):
        inclusion_proof(LEAVES[:3], index)
    with pytest.raises(InvalidInputError, match="out of range"):
        MerkleTree(LEAVES[:3]).proof(index)


def test_empty_tree_has_no_proofs() -> None:
    with pytest.raises(InvalidInputError):
        inclusion_proof([], 0)
    with pytest.raises(InvalidInputError):
        MerkleTree([]).proof(0)


def test_tree_proofs_equal_rfc_paths_for_every_leaf_of_small_trees() -> None:
    leaves = [bytes([i]) for i in range(65)]
    for size in range(1, len(leaves) + 1):
        tree = MerkleTree(leaves[:size])
        for index in range(size):
            assert tree.proof(index) == inclusion_proof(leaves[:size], index)


def test_proving_every_leaf_of_a_10k_batch_scales() -> None:
    leaves = [i.to_bytes(32, "big") for i in range(10_000)]
    tree = MerkleTree(leaves)
    proofs = [tree.proof(i) for i in range(len(leaves))]
    assert all(len(p.hashes) <= 14 for p in proofs)
    for i in range(0, len(leaves), 997):
        verify_inclusion(leaf=leaves[i], proof=proofs[i], root=tree.root)


def test_inclusion_proof_is_a_frozen_value() -> None:
    proof = inclusion_proof(LEAVES, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        proof.index = 1  # type: ignore[misc]
    from_list = InclusionProof(index=0, tree_size=8, hashes=list(proof.hashes))  # type: ignore[arg-type]
    assert from_list == proof
    assert hash(from_list) == hash(proof)


# --- properties ----------------------------------------------------------------------------

leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=300)
distinct_leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=300, unique=True)


@settings(deadline=None)
@given(leaf_lists)
def test_every_leaf_proves_against_the_root(leaves: list[bytes]) -> None:
    tree = MerkleTree(leaves)
    assert tree.root == root(leaves)
    for index, leaf in enumerate(leaves):
        verify_inclusion(leaf=leaf, proof=tree.proof(index), root=tree.root)


@settings(deadline=None)
@given(leaf_lists, st.data())
def test_tree_proof_equals_inclusion_proof(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1), label="index")
    assert MerkleTree(leaves).proof(index) == inclusion_proof(leaves, index)


@settings(deadline=None)
@given(distinct_leaf_lists, st.data())
def test_a_proof_does_not_verify_another_leaf(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1), label="index")
    other = data.draw(st.binary(max_size=40).filter(lambda b: b != leaves[index]), label="other")
    tree = MerkleTree(leaves)
    with pytest.raises(InvalidProofError):
        verify_inclusion(leaf=other, proof=tree.proof(index), root=tree.root)


@settings(deadline=None)
@given(leaf_lists, st.data())
def test_a_tampered_proof_hash_never_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    assume(len(leaves) > 1)  # a one-leaf tree's proof has no hashes to tamper with
    index = data.draw(st.integers(0, len(leaves) - 1), label="index")
    tree = MerkleTree(leaves)
    proof = tree.proof(index)
    position = data.draw(st.integers(0, len(proof.hashes) - 1), label="position")
    bit = data.draw(st.integers(0, 255), label="bit")
    hashes = list(proof.hashes)
    hashes[position] = (int.from_bytes(hashes[position], "big") ^ (1 << bit)).to_bytes(32, "big")
    with pytest.raises(InvalidProofError):
        verify_inclusion(
            leaf=leaves[index],
            proof=dataclasses.replace(proof, hashes=tuple(hashes)),
            root=tree.root,
        )


@settings(deadline=None)
@given(distinct_leaf_lists, st.data())
def test_a_proof_does_not_verify_at_another_index(leaves: list[bytes], data: st.DataObject) -> None:
    # Distinct leaves: with duplicates, the same leaf genuinely sits at several indices.
    assume(len(leaves) > 1)
    index = data.draw(st.integers(0, len(leaves) - 1), label="index")
    other = data.draw(st.integers(0, len(leaves) - 1).filter(lambda i: i != index), label="other")
    tree = MerkleTree(leaves)
    with pytest.raises(InvalidProofError):
        verify_inclusion(
            leaf=leaves[index],
            proof=dataclasses.replace(tree.proof(index), index=other),
            root=tree.root,
        )


@settings(deadline=None)
@given(leaf_lists, st.data(), st.sampled_from(["double", "halve", "grow by a power of two"]))
def test_a_proof_does_not_verify_at_another_tree_size(
    leaves: list[bytes], data: st.DataObject, change: str
) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1), label="index")
    tree = MerkleTree(leaves)
    size = len(leaves)
    new_size = {
        "double": size * 2,
        "halve": size // 2,
        "grow by a power of two": size + (1 << size.bit_length()),
    }[change]
    with pytest.raises(InvalidProofError):
        verify_inclusion(
            leaf=leaves[index],
            proof=dataclasses.replace(tree.proof(index), tree_size=new_size),
            root=tree.root,
        )


def test_an_interior_node_never_passes_for_a_leaf() -> None:
    # Without the 0x00/0x01 prefixes, the 64-byte "leaf" h0 || h1 would hash to the parent
    # node and prove membership at index 0 of the two-node tree above the leaves.
    leaves = [b"alpha", b"beta", b"gamma", b"delta"]
    h = [leaf_hash(leaf) for leaf in leaves]
    forged_leaf = h[0] + h[1]
    forged_path = (node_hash(h[2], h[3]),)
    real_root = root(leaves)

    assert root_from_inclusion_proof(0, 2, node_hash(h[0], h[1]), forged_path) == real_root
    with pytest.raises(InvalidProofError):
        verify_inclusion(
            leaf=forged_leaf,
            proof=InclusionProof(index=0, tree_size=2, hashes=forged_path),
            root=real_root,
        )


@settings(deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=2, max_size=300), st.data())
def test_no_64_byte_leaf_of_child_hashes_verifies_as_their_parent(
    leaves: list[bytes], data: st.DataObject
) -> None:
    # Pick a pair of sibling leaves 2j, 2j+1. The real path of leaf 2j minus its first hash
    # is the path of their parent, node j, in the tree one level up.
    pair = data.draw(st.integers(0, len(leaves) // 2 - 1), label="pair")
    tree = MerkleTree(leaves)
    path = tree.proof(2 * pair).hashes[1:]
    left, right = leaf_hash(leaves[2 * pair]), leaf_hash(leaves[2 * pair + 1])
    upper_size = (len(leaves) + 1) // 2

    assert root_from_inclusion_proof(pair, upper_size, node_hash(left, right), path) == tree.root
    with pytest.raises(InvalidProofError):
        verify_inclusion(
            leaf=left + right,
            proof=InclusionProof(index=pair, tree_size=upper_size, hashes=path),
            root=tree.root,
        )
