"""Auditing a folder or a manifest from the terminal against the chain alone (a real anvil
node): one row per file, the same verdict the one-file verifier gives it."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledger.cli import app
from ledger.hashing import sha256_file

runner = CliRunner()


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A folder of four files on a fresh anvil chain: two registered, one in a withdrawn
    dataset, one never registered."""
    from eth_account import Account

    from ledger.chain.anvil import AnvilNode
    from ledger.chain.backend import Chain
    from ledger.chain.deploy import Ledger
    from ledger.chain.types import Classification, NewVersion

    folder = tmp_path_factory.mktemp("catalogue")
    (folder / "sub").mkdir()
    names = ["a.csv", "b.csv", "sub/withdrawn.csv", "sub/unknown.csv"]
    for name in names:
        (folder / name).write_bytes(os.urandom(2048))
    (folder / ".hidden").write_bytes(b"not part of the catalogue")
    with AnvilNode() as node:
        chain = Chain.rpc(node.url)
        governance, department = Account.create(), Account.create()
        for account in (governance, department):
            chain.fund(account.address, 10**20)
        ledger = Ledger.deploy(chain, governance)
        ledger.departments.enrol_department(1, "Health", department.address, sender=governance)
        for name in names[:3]:
            salt = os.urandom(32)
            ledger.datasets.create_dataset(
                salt, Classification.PUBLIC, bytes(32),
                NewVersion(bytes(sha256_file(folder / name))), sender=department,
            )  # fmt: skip
        withdrawn = ledger.datasets.dataset_id_of(1, salt)
        ledger.datasets.withdraw_dataset(withdrawn, bytes(32), sender=department)
        yield {
            "folder": folder,
            "target": ["--rpc", node.url, "--contract", ledger.deployment.dataset_registry],
            "statuses": {
                "a.csv": "matched",
                "b.csv": "matched",
                "sub/withdrawn.csv": "withdrawn",
                "sub/unknown.csv": "not-registered",
            },
            "url": node.url,
            "contract": ledger.deployment.dataset_registry,
        }
        chain.close()


def test_a_folder_is_audited_file_by_file_into_a_csv_report(
    audited: dict[str, Any], tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"

    result = runner.invoke(
        app, ["verify", str(audited["folder"]), *audited["target"], "--report", str(report)]
    )

    assert result.exit_code == 1, result.output  # not every file matched
    assert "4 files: 2 matched, 1 withdrawn, 1 not-registered" in result.output
    assert "hint: a record registered in a batch" in result.output
    rows = list(csv.DictReader(report.read_text().splitlines()))
    assert {row["path"]: row["status"] for row in rows} == audited["statuses"]
    matched = next(row for row in rows if row["path"] == "a.csv")
    assert matched["department_id"] == "1" and matched["tx_hash"].startswith("0x")
    assert matched["dataset_id"].startswith("0x") and int(matched["block_number"]) > 0


def test_every_file_gets_the_verdict_the_one_file_verifier_gives_it(
    audited: dict[str, Any], tmp_path: Path
) -> None:
    from ledger.chain.backend import Chain
    from ledger.verifier import Verifier, verdict_summary

    report = tmp_path / "report.json"
    result = runner.invoke(
        app,
        ["verify", str(audited["folder"]), *audited["target"], "--report", str(report), "--json"],
    )
    assert result.exit_code == 1, result.output
    rows = json.loads(report.read_text())["results"]

    verifier = Verifier.at(Chain.rpc(audited["url"]), audited["contract"])
    for row in rows:
        one = verifier.verify(sha256_file(audited["folder"] / row["path"]))
        expected = verdict_summary({**one.to_dict(), "status": one.status})
        assert {k: v for k, v in row.items() if k != "path"} == expected


@pytest.mark.parametrize("form", ["sha256sum", "jsonl"])
def test_a_manifest_is_audited_without_the_files(
    audited: dict[str, Any], tmp_path: Path, form: str
) -> None:
    folder = audited["folder"]
    lines = ["# catalogue of 2026-12-07", ""]
    for name in audited["statuses"]:
        digest = sha256_file(folder / name).hex()[2:]
        lines.append(
            f"{digest}  {name}"
            if form == "sha256sum"
            else json.dumps({"sha256": digest, "path": name})
        )
    manifest = tmp_path / "SHA256SUMS"
    manifest.write_text("\n".join(lines) + "\n")

    result = runner.invoke(
        app, ["verify", "--manifest", str(manifest), *audited["target"], "--json"]
    )

    assert result.exit_code == 1, result.output
    answer = json.loads(result.output)
    assert answer["counts"] == {"matched": 2, "withdrawn": 1, "not-registered": 1}
    assert {r["path"]: r["status"] for r in answer["results"]} == audited["statuses"]


def test_an_all_matched_audit_exits_zero(audited: dict[str, Any], tmp_path: Path) -> None:
    digest = sha256_file(audited["folder"] / "a.csv").hex()[2:]
    manifest = tmp_path / "ok.sha256"
    manifest.write_text(f"{digest} *a.csv\n")

    result = runner.invoke(app, ["verify", "--manifest", str(manifest), *audited["target"]])

    assert result.exit_code == 0, result.output
    assert "1 files: 1 matched" in result.output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not a manifest line", "manifest line 1: expected sha256sum output"),
        ('{"path": "a.csv"}', "manifest line 1: no sha256"),
        ('{"sha256": "12", "path": "a.csv"}', "manifest line 1: expected 64 hex digits"),
        ("{not json", "manifest line 1: not valid JSON"),
    ],
)
def test_a_bad_manifest_line_is_named_and_nothing_is_checked(
    audited: dict[str, Any], tmp_path: Path, line: str, message: str
) -> None:
    manifest = tmp_path / "bad"
    manifest.write_text(line + "\n")

    result = runner.invoke(
        app, ["verify", "--manifest", str(manifest), *audited["target"]], env={"COLUMNS": "300"}
    )

    assert result.exit_code == 2  # bad input: nothing was checked
    assert message in result.output


@pytest.mark.parametrize(
    "arguments",
    [
        ["--rpc", "http://127.0.0.1:1"],  # no --contract
        [],  # neither the chain nor a service
    ],
)
def test_an_audit_needs_one_place_to_check_against(
    audited: dict[str, Any], arguments: list[str]
) -> None:
    result = runner.invoke(
        app, ["verify", str(audited["folder"]), *arguments], env={"PROVLEDGER_URL": ""}
    )

    assert result.exit_code == 2
    assert "audit" in result.output


def test_a_report_is_never_overwritten(audited: dict[str, Any], tmp_path: Path) -> None:
    report = tmp_path / "kept.csv"
    report.write_text("an earlier audit\n")

    result = runner.invoke(
        app, ["verify", str(audited["folder"]), *audited["target"], "--report", str(report)]
    )

    assert result.exit_code == 2 and "never overwritten" in result.output
    assert report.read_text() == "an earlier audit\n"
