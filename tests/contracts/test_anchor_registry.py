"""Specification of AnchorRegistry: batch roots anchored by departments, and RFC 6962
inclusion proofs checked on chain against them.

Trees and proofs are built with :mod:`ledger.merkle` (itself tested against the published
Certificate Transparency vectors), so these tests also show the Python and Solidity verifiers
agree.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.chain.backend import Chain, Receipt
from ledger.chain.deploy import Ledger
from ledger.errors import (
    AnchorExistsError,
    AnchorInvalidSizeError,
    AnchorUnknownError,
    AnchorZeroRootError,
    DepartmentUnknownSignerError,
    InvalidProofError,
    SignatureWrongSignerError,
)
from ledger.merkle import MerkleTree, leaf_hash, node_hash, root_from_inclusion_proof

# --- helpers (kept local: tests/conftest.py constants cannot be imported) ---------------------

DEPT_A = 1
DEPT_B = 2
MAX_BATCH_SIZE = 2**32


def hex32(value: bytes) -> str:
    """How decoded error arguments spell a bytes32."""
    return "0x" + value.hex()


def block_timestamp(chain: Chain, receipt: Receipt) -> int:
    return int(chain.w3.eth.get_block(receipt.block_number)["timestamp"])


def random_records(n: int) -> list[bytes]:
    return [os.urandom(32) for _ in range(n)]


def anchored_tree(ledger: Ledger, actors, records: list[bytes]) -> MerkleTree:
    tree = MerkleTree(records)
    ledger.anchors.anchor_batch(tree.root, tree.size, sender=actors.dept_a)
    return tree


def proof_of(tree: MerkleTree, index: int) -> list[bytes]:
    return list(tree.proof(index).hashes)


def flip_bit(value: bytes, bit: int = 0) -> bytes:
    raw = bytearray(value)
    raw[bit // 8 % len(raw)] ^= 1 << (bit % 8)
    return bytes(raw)


def python_verifies(root: bytes, size: int, index: int, record: bytes, proof: list[bytes]) -> bool:
    """The off-chain verifier's answer, as a boolean like the contract's."""
    try:
        return root_from_inclusion_proof(index, size, leaf_hash(record), proof) == root
    except InvalidProofError:
        return False


# --- anchoring -------------------------------------------------------------------------------


def test_a_department_anchors_a_batch_root(ledger, actors, chain):
    root, meta = os.urandom(32), os.urandom(32)
    receipt = ledger.anchors.anchor_batch(root, 1000, meta, sender=actors.dept_a)

    record = ledger.anchors.anchor(root)
    assert (record.department, record.size) == (DEPT_A, 1000)
    assert record.anchored_at == block_timestamp(chain, receipt)
    (event,) = ledger.anchors.decode_events(receipt.logs)
    assert event.name == "BatchAnchored"
    assert event.args == {"root": root, "department": DEPT_A, "size": 1000, "metadataHash": meta}


def test_a_relayer_anchors_a_batch_for_a_department_by_signature(ledger, actors, chain, deadline):
    root, meta = os.urandom(32), os.urandom(32)
    auth = ledger.anchors.sign_anchor_batch(
        root, 7, meta, signer=actors.dept_b, department_id=DEPT_B, deadline=deadline
    )
    assert auth.nonce == 0
    receipt = ledger.anchors.anchor_batch_by_sig(root, 7, meta, auth=auth, sender=actors.relayer)

    record = ledger.anchors.anchor(root)
    assert (record.department, record.size) == (DEPT_B, 7)
    assert record.anchored_at == block_timestamp(chain, receipt)
    (event,) = ledger.anchors.decode_events(receipt.logs)
    assert event.name == "BatchAnchored"
    assert event.args == {"root": root, "department": DEPT_B, "size": 7, "metadataHash": meta}
    assert ledger.anchors.department_nonce(DEPT_B) == 1
    assert ledger.anchors.department_nonce(DEPT_A) == 0


def test_a_relayer_cannot_change_the_root_a_department_signed(ledger, actors, deadline):
    signed, forged = os.urandom(32), os.urandom(32)
    auth = ledger.anchors.sign_anchor_batch(
        signed, 7, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    with pytest.raises(SignatureWrongSignerError) as exc:
        ledger.anchors.anchor_batch_by_sig(forged, 7, auth=auth, sender=actors.relayer)
    assert exc.value.args_by_name["departmentId"] == DEPT_A
    assert exc.value.args_by_name["recovered"] != actors.dept_a.address
    with pytest.raises(SignatureWrongSignerError):
        ledger.anchors.anchor_batch_by_sig(signed, 8, auth=auth, sender=actors.relayer)
    assert ledger.anchors.anchor(forged).department == 0
    ledger.anchors.anchor_batch_by_sig(signed, 7, auth=auth, sender=actors.relayer)
    assert ledger.anchors.anchor(signed).department == DEPT_A


def test_an_unanchored_root_reads_as_department_zero(ledger):
    record = ledger.anchors.anchor(os.urandom(32))
    assert (record.department, record.size, record.anchored_at) == (0, 0, 0)


def test_the_zero_root_is_refused(ledger, actors, deadline):
    with pytest.raises(AnchorZeroRootError) as exc:
        ledger.anchors.anchor_batch(bytes(32), 1, sender=actors.dept_a)
    assert exc.value.args_by_name == {}
    auth = ledger.anchors.sign_anchor_batch(
        bytes(32), 1, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    with pytest.raises(AnchorZeroRootError):
        ledger.anchors.anchor_batch_by_sig(bytes(32), 1, auth=auth, sender=actors.relayer)


@pytest.mark.parametrize(
    "size", [0, MAX_BATCH_SIZE + 1, 2**64 - 1], ids=["empty", "max+1", "u64-max"]
)
def test_a_batch_must_hold_1_to_2_pow_32_records(ledger, actors, size):
    root = os.urandom(32)
    with pytest.raises(AnchorInvalidSizeError) as exc:
        ledger.anchors.anchor_batch(root, size, sender=actors.dept_a)
    assert exc.value.args_by_name == {"size": size}
    assert ledger.anchors.anchor(root).department == 0


@pytest.mark.parametrize("size", [1, MAX_BATCH_SIZE], ids=["one", "max"])
def test_batch_sizes_at_the_limits_are_accepted(ledger, actors, size):
    root = os.urandom(32)
    ledger.anchors.anchor_batch(root, size, sender=actors.dept_a)
    assert ledger.anchors.anchor(root).size == size


def test_a_root_can_be_anchored_only_once(ledger, actors, deadline):
    root = os.urandom(32)
    ledger.anchors.anchor_batch(root, 5, sender=actors.dept_a)
    first = ledger.anchors.anchor(root)

    with pytest.raises(AnchorExistsError) as exc:
        ledger.anchors.anchor_batch(root, 5, sender=actors.dept_a)
    assert exc.value.args_by_name == {"root": hex32(root)}
    # Nor by another department (it cannot claim A's batch), nor with another size.
    with pytest.raises(AnchorExistsError):
        ledger.anchors.anchor_batch(root, 6, sender=actors.dept_b)
    auth = ledger.anchors.sign_anchor_batch(
        root, 5, signer=actors.dept_b, department_id=DEPT_B, deadline=deadline
    )
    with pytest.raises(AnchorExistsError):
        ledger.anchors.anchor_batch_by_sig(root, 5, auth=auth, sender=actors.relayer)
    assert ledger.anchors.anchor(root) == first


@pytest.mark.parametrize("who", ["outsider", "relayer", "governance"])
def test_only_a_department_may_anchor(ledger, actors, who):
    caller = getattr(actors, who)
    root = os.urandom(32)
    with pytest.raises(DepartmentUnknownSignerError) as exc:
        ledger.anchors.anchor_batch(root, 1, sender=caller)
    assert exc.value.args_by_name == {"account": caller.address}
    assert ledger.anchors.anchor(root).department == 0


# --- inclusion proofs ------------------------------------------------------------------------

SIZES = [1, 2, 3, 7, 8, 100]


def indices_to_check(n: int) -> list[int]:
    """Every index of small trees; the edges and a spread of the middle of big ones."""
    if n <= 16:
        return list(range(n))
    return sorted({0, 1, n // 2, n - 2, n - 1, 31, 32, 63, 64, 95, 96})


@pytest.mark.parametrize("n", SIZES)
def test_every_record_of_an_anchored_batch_verifies(ledger, actors, n):
    records = random_records(n)
    tree = anchored_tree(ledger, actors, records)
    for i in range(n):  # all of them, even for 100
        assert ledger.anchors.verify_inclusion(tree.root, i, records[i], proof_of(tree, i)), i


@pytest.mark.parametrize("n", SIZES)
def test_a_different_record_does_not_verify(ledger, actors, n):
    records = random_records(n)
    tree = anchored_tree(ledger, actors, records)
    for i in indices_to_check(n):
        proof = proof_of(tree, i)
        assert not ledger.anchors.verify_inclusion(tree.root, i, os.urandom(32), proof)
        assert not ledger.anchors.verify_inclusion(tree.root, i, flip_bit(records[i], 255), proof)
        if n > 1:  # another record of the same batch, at the wrong place
            other = records[(i + 1) % n]
            assert not ledger.anchors.verify_inclusion(tree.root, i, other, proof)


@pytest.mark.parametrize("n", SIZES)
def test_a_record_does_not_verify_at_another_index(ledger, actors, n):
    records = random_records(n)
    tree = anchored_tree(ledger, actors, records)
    for i in indices_to_check(n):
        proof = proof_of(tree, i)
        for wrong in {(i + 1) % n, (i - 1) % n, i ^ 1, n, n + i, 2**256 - 1} - {i}:
            assert not ledger.anchors.verify_inclusion(tree.root, wrong, records[i], proof), (
                i,
                wrong,
            )


@pytest.mark.parametrize("n", SIZES)
def test_a_truncated_or_extended_proof_does_not_verify(ledger, actors, n):
    records = random_records(n)
    tree = anchored_tree(ledger, actors, records)
    for i in indices_to_check(n):
        proof = proof_of(tree, i)
        verify = ledger.anchors.verify_inclusion
        if proof:
            assert not verify(tree.root, i, records[i], proof[:-1]), i
            assert not verify(tree.root, i, records[i], proof[1:]), i
            assert not verify(tree.root, i, records[i], []), i
        assert not verify(tree.root, i, records[i], [*proof, os.urandom(32)]), i
        assert not verify(tree.root, i, records[i], [*proof, tree.root]), i
        assert not verify(tree.root, i, records[i], [os.urandom(32), *proof]), i


@pytest.mark.parametrize("n", SIZES)
def test_a_proof_with_a_flipped_hash_does_not_verify(ledger, actors, n):
    records = random_records(n)
    tree = anchored_tree(ledger, actors, records)
    for i in indices_to_check(n):
        proof = proof_of(tree, i)
        for k in range(len(proof)):
            for bit in (0, 137, 255):
                tampered = [*proof[:k], flip_bit(proof[k], bit), *proof[k + 1 :]]
                assert not ledger.anchors.verify_inclusion(tree.root, i, records[i], tampered), (
                    i,
                    k,
                    bit,
                )
        if len(proof) >= 2 and proof[0] != proof[1]:  # swapped siblings
            swapped = [proof[1], proof[0], *proof[2:]]
            assert not ledger.anchors.verify_inclusion(tree.root, i, records[i], swapped), i


def test_a_proof_is_checked_against_its_own_root_only(ledger, actors):
    first_records = random_records(8)
    first = anchored_tree(ledger, actors, first_records)
    second = anchored_tree(ledger, actors, random_records(8))
    proof = proof_of(first, 3)
    assert ledger.anchors.verify_inclusion(first.root, 3, first_records[3], proof)
    assert not ledger.anchors.verify_inclusion(second.root, 3, first_records[3], proof)


def test_a_proof_against_an_unknown_root_is_refused(ledger, actors):
    records = random_records(3)
    tree = MerkleTree(records)  # built, never anchored
    with pytest.raises(AnchorUnknownError) as exc:
        ledger.anchors.verify_inclusion(tree.root, 0, records[0], proof_of(tree, 0))
    assert exc.value.args_by_name == {"root": hex32(tree.root)}
    with pytest.raises(AnchorUnknownError):
        ledger.anchors.verify_inclusion(bytes(32), 0, bytes(32), [])


def test_a_record_of_another_departments_batch_verifies_for_anyone(ledger, actors):
    records = random_records(5)
    tree = MerkleTree(records)
    ledger.anchors.anchor_batch(tree.root, 5, sender=actors.dept_b)
    assert ledger.anchors.anchor(tree.root).department == DEPT_B
    assert ledger.anchors.verify_inclusion(tree.root, 4, records[4], proof_of(tree, 4))


# --- domain separation -----------------------------------------------------------------------


def test_an_interior_node_presented_as_a_record_never_verifies(ledger, actors):
    """A second-preimage attempt: present an interior node as if it were a leaf.

    The tree has four records; its root is node(N01, N23) with N01 = node(L0, L1). Anchored
    with size 2, a proof of shape [N23] at index 0 is well formed, so only the 0x00 / 0x01
    domain separation stands between the attacker and a forged inclusion.
    """
    records = random_records(4)
    tree = MerkleTree(records)
    leaves = [leaf_hash(r) for r in records]
    n01, n23 = node_hash(leaves[0], leaves[1]), node_hash(leaves[2], leaves[3])
    assert node_hash(n01, n23) == tree.root
    ledger.anchors.anchor_batch(tree.root, 2, sender=actors.dept_a)

    # The two child hashes as a 64-byte record: the leaf prefix keeps it from being N01.
    assert leaf_hash(leaves[0] + leaves[1]) != n01
    assert not python_verifies(tree.root, 2, 0, leaves[0] + leaves[1], [n23])
    # On chain a record is 32 bytes, so the attacker presents the node hashes themselves.
    verify = ledger.anchors.verify_inclusion
    assert not verify(tree.root, 0, n01, [n23])
    assert not verify(tree.root, 1, n23, [n01])
    assert not verify(tree.root, 0, leaves[0], [leaves[1], n23])
    assert not verify(tree.root, 1, leaves[1], [leaves[0], n23])


def test_a_leaf_hash_presented_as_its_record_does_not_verify(ledger, actors):
    records = random_records(4)
    tree = anchored_tree(ledger, actors, records)
    for i in range(4):
        proof = proof_of(tree, i)
        assert ledger.anchors.verify_inclusion(tree.root, i, records[i], proof)
        assert not ledger.anchors.verify_inclusion(tree.root, i, leaf_hash(records[i]), proof)


# --- Python and Solidity agree ---------------------------------------------------------------

_MUTATIONS = ("none", "record", "index", "truncate", "extend", "flip")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70),
    data=st.data(),
)
def test_python_and_the_contract_agree_on_every_proof(ledger, actors, records, data):
    tree = MerkleTree(records)
    # Hypothesis may replay a tree; a root is anchored once and keeps its size, so reuse it.
    if ledger.anchors.anchor(tree.root).department == 0:
        ledger.anchors.anchor_batch(tree.root, tree.size, sender=actors.dept_a)
    assert ledger.anchors.anchor(tree.root).size == tree.size

    index = data.draw(st.integers(0, tree.size - 1), label="index")
    record, proof = records[index], proof_of(tree, index)
    assert ledger.anchors.verify_inclusion(tree.root, index, record, proof)

    mutation = data.draw(st.sampled_from(_MUTATIONS), label="mutation")
    if mutation == "record":
        record = data.draw(st.binary(min_size=32, max_size=32), label="other record")
    elif mutation == "index":
        index = data.draw(st.integers(0, 2 * tree.size), label="other index")
    elif mutation == "truncate":
        proof = proof[:-1]
    elif mutation == "extend":
        proof = [*proof, data.draw(st.binary(min_size=32, max_size=32), label="extra")]
    elif mutation == "flip" and proof:
        k = data.draw(st.integers(0, len(proof) - 1), label="hash")
        bit = data.draw(st.integers(0, 255), label="bit")
        proof = [*proof[:k], flip_bit(proof[k], bit), *proof[k + 1 :]]

    expected = python_verifies(tree.root, tree.size, index, record, proof)
    assert ledger.anchors.verify_inclusion(tree.root, index, record, proof) is expected
