"""The auditor's page computes batched records' leaves and RFC 6962 roots in the browser
(``web/auditor/src/proofs.js``): they are the ledger's own, on trees of every shape."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from typing import Any

import pytest

from ledger.anchoring.records import BatchRecord, RecordKind
from ledger.compiler import project_root
from ledger.merkle import MerkleTree

_RUNNER = """
import { encodeRecord, rootFromProof } from "./proofs.mjs";
import { hexlify } from "ethers";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { proofs, records } = JSON.parse(input);
const roots = proofs.map((p) => {
  try {
    return rootFromProof(p.index, p.size, p.digest, p.proof);
  } catch (error) {
    return `error: ${error.message}`;
  }
});
console.log(JSON.stringify({ roots, records: records.map((r) => hexlify(encodeRecord(r))) }));
"""


@pytest.fixture(scope="module")
def browser_proofs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``proofs.js`` bundled for Node (with the project's ethers), run on JSON vectors."""
    node, root = shutil.which("node"), project_root()
    esbuild = root / "node_modules" / ".bin" / "esbuild"
    if node is None or not esbuild.is_file():
        pytest.skip("node and `npm ci` are needed to run the page's code")
    folder = tmp_path_factory.mktemp("proofs")
    subprocess.run(
        [esbuild, "web/auditor/src/proofs.js", "--bundle", "--format=esm", "--platform=node",
         f"--outfile={folder / 'proofs.mjs'}", "--log-level=warning"],
        cwd=root, check=True,
    )  # fmt: skip
    (folder / "run.mjs").write_text(_RUNNER)
    (folder / "node_modules").symlink_to(root / "node_modules")

    def run(vectors: dict[str, Any]) -> dict[str, Any]:
        answer = subprocess.run(
            [node, str(folder / "run.mjs")],
            input=json.dumps(vectors), capture_output=True, text=True, check=True,
        )  # fmt: skip
        result: dict[str, Any] = json.loads(answer.stdout)
        return result

    return run


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def test_roots_from_inclusion_proofs_are_the_ledgers(browser_proofs: Any) -> None:
    vectors, expected = [], []
    for size in range(1, 18):
        digests = [hashlib.sha256(f"{size}/{i}".encode()).digest() for i in range(size)]
        tree = MerkleTree(digests)
        for index in range(size):
            proof = tree.proof(index)
            vectors.append(
                {
                    "index": index,
                    "size": size,
                    "digest": _hex(digests[index]),
                    "proof": [_hex(h) for h in proof.hashes],
                }
            )
            expected.append(_hex(tree.root))
    # Tampered: a sibling changed, a leaf moved, a proof cut short.
    good = vectors[40]
    vectors += [
        {**good, "proof": [_hex(bytes(32)), *good["proof"][1:]]},
        {**good, "index": good["index"] ^ 1},
        {**good, "proof": good["proof"][:-1]},
    ]

    roots = browser_proofs({"proofs": vectors, "records": []})["roots"]

    assert roots[: len(expected)] == expected
    assert roots[-3] != expected[40] and roots[-2] != expected[40]
    assert roots[-1] == "error: the proof is too short"


def test_record_encodings_are_the_ledgers(browser_proofs: Any) -> None:
    dataset, parent = hashlib.sha256(b"d").digest(), hashlib.sha256(b"p").digest()
    records = [
        BatchRecord(
            kind=RecordKind.CREATE,
            department_id=7,
            dataset_id=dataset,
            version=1,
            content_hash=hashlib.sha256(b"c").digest(),
            metadata_hash=hashlib.sha256(b"m").digest(),
            classification=2,
            dataset_metadata_hash=hashlib.sha256(b"dm").digest(),
            salt=hashlib.sha256(b"s").digest(),
            parents=((parent, 3),),
        ),
        BatchRecord(
            kind=RecordKind.VERSION,
            department_id=2**62,
            dataset_id=dataset,
            version=2**32 - 1,
            content_hash=hashlib.sha256(b"c2").digest(),
            parents=((parent, 1), (dataset, 2**31)),
        ),
    ]

    encoded = browser_proofs({"proofs": [], "records": [r.to_json() for r in records]})

    assert encoded["records"] == [_hex(r.encode()) for r in records]
