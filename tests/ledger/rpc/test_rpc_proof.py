"""``eth_getProof`` (EIP-1186): the proofs verify against the block's ``stateRoot`` with nothing
but the reference trie code, keccak and RLP, as an auditor would check them. On ``--chain=anvil``
the same checks run on anvil's own proofs, forwarded."""

from __future__ import annotations

from typing import Any

import rlp
from eth_utils import keccak
from rpc_harness import Activity, Rpc, deploy
from trie import HexaryTrie

from ledger.chain.backend import Chain

# Init code storing 0x2a at slot 0 and 7 at slot 5, then deploying one STOP byte.
STORING_INIT = "602a600055600760055560016000f3"


def proven(root: bytes, key: bytes, proof: list[str]) -> bytes:
    """The value ``proof`` proves for ``key`` (hashed here) under ``root``; b"" proves absence.
    The reference implementation raises if the proof does not lead from the root to the key."""
    nodes = [rlp.decode(bytes.fromhex(node[2:])) for node in proof]
    value: bytes = HexaryTrie.get_from_proof(root, keccak(key), nodes)
    return value


def verify(state_root: bytes, answer: dict[str, Any]) -> None:
    """Check every claim of an ``eth_getProof`` answer against ``state_root``."""
    address = bytes.fromhex(answer["address"][2:])
    account = proven(state_root, address, answer["accountProof"])
    claimed = [
        int(answer["nonce"], 16),
        int(answer["balance"], 16),
        bytes.fromhex(answer["storageHash"][2:]),
        bytes.fromhex(answer["codeHash"][2:]),
    ]
    if account:
        assert _account_fields(account) == claimed
    else:  # absent: geth's empty account
        assert claimed == [0, 0, keccak(rlp.encode(b"")), keccak(b"")]
    storage_root = claimed[2]
    for entry in answer["storageProof"]:
        slot = int(entry["key"], 16).to_bytes(32, "big")
        if not entry["proof"]:  # nothing to walk: only an empty storage trie proves that way
            assert storage_root == keccak(rlp.encode(b""))
        raw = proven(storage_root, slot, entry["proof"]) if entry["proof"] else b""
        value = int.from_bytes(rlp.decode(raw), "big") if raw else 0
        assert value == int(entry["value"], 16), entry["key"]


def _account_fields(encoded: bytes) -> list[Any]:
    nonce, balance, storage_root, code_hash = rlp.decode(encoded)
    return [
        int.from_bytes(nonce, "big"),
        int.from_bytes(balance, "big"),
        storage_root,
        code_hash,
    ]


def test_proofs_verify_against_the_state_root(rpc: Rpc, chain: Chain, activity: Activity) -> None:
    contract = deploy(chain, activity.sender, STORING_INIT)
    block = rpc("eth_getBlockByNumber", "latest", False)
    state_root = bytes.fromhex(block["stateRoot"][2:])
    slots = ["0x0", "0x5", "0x6", "0x" + "00" * 31 + "05"]
    answer = rpc("eth_getProof", contract, slots, block["hash"])
    verify(state_root, answer)
    assert [int(e["value"], 16) for e in answer["storageProof"]] == [0x2A, 7, 0, 7]
    assert int(answer["nonce"], 16) == 1  # a contract starts at nonce 1 (EIP-161)

    for address in (activity.sender.address, activity.registry, "0x" + "ee" * 20):
        verify(state_root, rpc("eth_getProof", address, ["0x0"], block["number"]))

    # A proof at an older block verifies against that block's root, not the head's (not asked
    # of a node forwarded to: anvil may have let go of older states after snapshot reverts).
    if rpc.forwarded:
        return
    old = rpc("eth_getBlockByNumber", hex(activity.created_block - 1), False)
    old_answer = rpc("eth_getProof", contract, ["0x0"], old["number"])
    verify(bytes.fromhex(old["stateRoot"][2:]), old_answer)
    assert old_answer["codeHash"] == "0x" + keccak(b"").hex()


def test_a_tampered_proof_does_not_verify(rpc: Rpc, chain: Chain, activity: Activity) -> None:
    contract = deploy(chain, activity.sender, STORING_INIT)
    block = rpc("eth_getBlockByNumber", "latest", False)
    answer = rpc("eth_getProof", contract, ["0x0"], "latest")
    answer["storageProof"][0]["value"] = "0x2b"
    try:
        verify(bytes.fromhex(block["stateRoot"][2:]), answer)
    except AssertionError:
        return
    raise AssertionError("a wrong storage value passed verification")
