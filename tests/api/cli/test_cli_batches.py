"""A folder registered in batches at a terminal, and a batched file proven with a bundle."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import httpx2
from cli_harness import Department, Invoke, Service

EXIT_USAGE, EXIT_REFUSED = 2, 3


def test_a_folder_is_registered_in_batches_and_each_file_verifies_with_its_bundle(
    provledger: Invoke, enrol: Callable[[str], Department], service: Service, tmp_path: Path
) -> None:
    census = enrol("Statistics")
    folder = tmp_path / "census"
    (folder / "2026" / "q1").mkdir(parents=True)
    files = {
        "households.csv": os.urandom(3000),
        "2026/q1/regions.csv": os.urandom(500),
        "2026/q1/notes.txt": b"provisional figures\n",
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    (folder / ".cache").write_bytes(b"left out: hidden")

    result = provledger("register", str(folder), "--json", "--chunk", "2", "--tag", "census",
                        token=census.token)  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["count"] == 3
    by_path = {row["path"]: row for row in answer["records"]}
    assert set(by_path) == set(files)
    for name, content in files.items():
        row = by_path[name]
        assert row["status"] == "confirmed"
        assert row["content_hash"] == "0x" + hashlib.sha256(content).hexdigest()
        assert row["version"] == 1

    # An auditor asks the service, keeps the answer as a bundle, and checks it on the chain.
    auditor = provledger("auditor", "token", "--json", token=service.governance_token)
    headers = {"Authorization": f"Bearer {json.loads(auditor.stdout)['token']}"}
    row = by_path["2026/q1/regions.csv"]
    verdict = httpx2.post(
        f"{service.url}/v1/verify", json={"content_hash": row["content_hash"]}, headers=headers
    ).json()
    assert verdict["matched"] and verdict["registrations"][0]["anchor"]["tree_size"] >= 1
    bundle = tmp_path / "regions.bundle.json"
    bundle.write_text(json.dumps(verdict))
    registry = service.runtime.ledger.deployment.dataset_registry
    checked = provledger(
        "verify", "--bundle", str(bundle), str(folder / "2026/q1/regions.csv"),
        "--rpc", f"{service.url}/rpc", "--contract", registry, "--json",
    )  # fmt: skip
    assert checked.exit_code == 0, checked.output
    wrong_file = provledger("verify", "--bundle", str(bundle), str(folder / "households.csv"))
    assert wrong_file.exit_code != 0


def test_folder_mistakes_are_refused_before_anything_is_sent(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    owner = enrol("Transport")
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = provledger("register", str(empty), token=owner.token)
    assert nothing.exit_code == EXIT_USAGE and "empty-directory" in nothing.stderr
    (empty / "a.csv").write_bytes(b"x")
    mixed = provledger("register", str(empty), "--upload", token=owner.token)
    assert mixed.exit_code == EXIT_USAGE


def test_a_manifest_registers_hashes_computed_elsewhere_with_versions_and_lineage(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    owner = enrol("Environment")
    salt = "0x" + os.urandom(32).hex()
    first = {"content_hash": "0x" + os.urandom(32).hex(), "metadata": {"title": "air"},
             "salt": salt}  # fmt: skip
    created = provledger("register", "--manifest", _write(tmp_path / "a.jsonl", [first]),
                         "--json", token=owner.token)  # fmt: skip
    assert created.exit_code == 0, created.output
    dataset = json.loads(created.stdout)["records"][0]["dataset_id"]
    second = [
        {"content_hash": "0x" + os.urandom(32).hex(), "dataset_id": dataset,
         "metadata": {"note": "recalibrated"}, "parents": [{"dataset_id": dataset, "version": 1}]},
    ]  # fmt: skip
    appended = provledger("register", "--manifest", _write(tmp_path / "b.jsonl", second),
                          "--json", token=owner.token)  # fmt: skip
    assert appended.exit_code == 0, appended.output
    (row,) = json.loads(appended.stdout)["records"]
    assert (row["dataset_id"], row["version"], row["status"]) == (dataset, 2, "confirmed")

    garbage = tmp_path / "bad.jsonl"
    garbage.write_text("{not json\n")
    refused = provledger("register", "--manifest", str(garbage), token=owner.token)
    assert refused.exit_code == EXIT_USAGE and "invalid-manifest" in refused.stderr
    garbage.write_text("[" * 50 + "]" * 50 + "\n")  # scanned before any parser recurses into it
    refused = provledger("register", "--manifest", str(garbage), token=owner.token)
    assert refused.exit_code == EXIT_USAGE and "nests deeper than 32 levels" in refused.stderr
    unknown = provledger("register", "--manifest", _write(tmp_path / "c.jsonl",
                         [{"content_hash": "0x" + "ab" * 32, "dataset_id": "0x" + "cd" * 32}]),
                         token=owner.token)  # fmt: skip
    assert unknown.exit_code == EXIT_REFUSED, unknown.output


def _write(path: Path, records: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_a_catalogue_is_audited_through_the_service_and_against_the_chain_alone(
    provledger: Invoke, enrol: Callable[[str], Department], service: Service, tmp_path: Path
) -> None:
    archive = enrol("Archives")
    folder = tmp_path / "archive"
    folder.mkdir()
    for name in ("a.csv", "b.csv", "c.csv"):
        (folder / name).write_bytes(os.urandom(700))
    registered = provledger("register", str(folder), "--json", token=archive.token)
    assert registered.exit_code == 0, registered.output
    (folder / "unregistered.csv").write_bytes(os.urandom(700))
    auditor = provledger("auditor", "token", "--json", token=service.governance_token)
    auditor_token = json.loads(auditor.stdout)["token"]
    manifest = tmp_path / "SHA256SUMS"
    manifest.write_text(
        "".join(
            f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n"
            for n in ("a.csv", "b.csv", "c.csv", "unregistered.csv")
        )
    )
    report = tmp_path / "audit.json"

    through_service = provledger(
        "verify", "--manifest", str(manifest), "--report", str(report), token=auditor_token
    )
    folder_through_service = provledger("verify", str(folder), "--json", token=auditor_token)
    registry = service.runtime.ledger.deployment.dataset_registry
    chain_only = provledger(
        "verify", str(folder), "--rpc", f"{service.url}/rpc", "--contract", registry, "--json"
    )

    assert through_service.exit_code == 1, through_service.output  # one file is not registered
    assert "4 files: 3 matched, 1 not-registered" in through_service.stdout
    rows = {row["path"]: row for row in json.loads(report.read_text())["results"]}
    assert rows["unregistered.csv"]["status"] == "not-registered"
    assert rows["a.csv"]["registrations"][0]["department_id"] == archive.id
    assert rows["a.csv"]["registrations"][0]["anchor"]["root"].startswith("0x")
    assert json.loads(folder_through_service.stdout)["counts"] == {
        "matched": 3,
        "not-registered": 1,
    }
    # Batched records are not in the chain's logs (only their roots are): the chain alone
    # cannot find them, as the README says.
    assert json.loads(chain_only.stdout)["counts"] == {"not-registered": 4}


def test_an_audit_through_the_service_needs_a_token(provledger: Invoke, tmp_path: Path) -> None:
    manifest = tmp_path / "SHA256SUMS"
    manifest.write_text(f"{'ab' * 32}  a.csv\n")

    result = provledger("verify", "--manifest", str(manifest), token=None)

    assert result.exit_code == EXIT_USAGE and "no-token" in result.stderr
