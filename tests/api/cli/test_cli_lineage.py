"""``provledger lineage``: a dataset's ancestors and descendants across departments, as a tree,
as Graphviz DOT and as JSON, the way the index shows them once confirmed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from cli_harness import Department, Invoke, eventually, registered


def _lineage(provledger: Invoke, token: str, *args: str, until: Callable[[str], bool]) -> str:
    """``provledger lineage ARGS`` once its output satisfies ``until`` (the index follows the
    chain a moment behind the confirmation)."""

    def shown() -> str:
        result = provledger("lineage", *args, token=token)
        assert result.exit_code == 0, result.output
        return result.stdout if until(result.stdout) else ""

    output = eventually(shown)
    assert output, f"lineage {' '.join(args)} never showed what was expected"
    return str(output)


def test_lineage_shows_versions_and_what_another_department_derived_from_them(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health, planning = enrol("Health"), enrol("Planning")
    (tmp_path / "beds.csv").write_bytes(os.urandom(64))
    (tmp_path / "beds-clean.csv").write_bytes(os.urandom(64))
    (tmp_path / "capacity.csv").write_bytes(os.urandom(64))
    first = registered(provledger, health, tmp_path / "beds.csv")
    source = first["resource"]["dataset_id"]
    registered(
        provledger, health, tmp_path / "beds-clean.csv", "--dataset", source,
        "--parent", f"{source}:1",
    )  # fmt: skip
    derived = registered(
        provledger, planning, tmp_path / "capacity.csv", "--parent", f"{source}:2"
    )["resource"]["dataset_id"]

    answer = json.loads(
        _lineage(provledger, health.token, source, "--json",
                 until=lambda out: bool(json.loads(out)["descendants"]))
    )  # fmt: skip
    assert answer["within"] == [
        {"depth": 0, "child": {"dataset_id": source, "version": 2},
         "parent": {"dataset_id": source, "version": 1}}
    ]  # fmt: skip
    assert [(e["child"]["dataset_id"], e["parent"]["version"]) for e in answer["descendants"]] == [
        (derived, 2)
    ]
    assert answer["ancestors"] == []

    tree = _lineage(provledger, health.token, source, until=lambda out: "used by" in out)
    assert f"dataset {source}" in tree
    assert f"↓ used by {derived[:10]}" in tree and f"({derived}:1)" in tree
    assert "  v1\n" in tree and "  v2\n" in tree

    # From the derived dataset, two steps up: version 2 of the source, then its version 1.
    drawn = _lineage(
        provledger, planning.token, derived, "--format", "dot", "--depth", "2",
        until=lambda out: "->" in out,
    )  # fmt: skip
    lines = drawn.splitlines()
    assert lines[0] == "digraph lineage {" and lines[-1] == "}"
    assert f'  "{source}:2" -> "{derived}:1";' in lines
    assert f'  "{source}:1" -> "{source}:2";' in lines
    one_step = _lineage(
        provledger, planning.token, derived, "--format", "dot", "--depth", "1",
        until=lambda out: "->" in out,
    )  # fmt: skip
    assert f'"{source}:1" -> "{source}:2"' not in one_step

    # The same ancestry as W3C PROV-JSON: the derived version was derived from version 2.
    prov = json.loads(
        _lineage(provledger, planning.token, derived, "--format", "prov-json", until=bool)
    )
    derivations = {
        (d["prov:generatedEntity"], d["prov:usedEntity"]) for d in prov["wasDerivedFrom"].values()
    }
    assert (f"pl:dataset/{derived}/v/1", f"pl:dataset/{source}/v/2") in derivations


def test_lineage_of_a_dataset_with_no_links_says_so_and_of_an_unknown_one_is_refused(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health = enrol("Health")
    (tmp_path / "alone.csv").write_bytes(os.urandom(64))
    alone = registered(provledger, health, tmp_path / "alone.csv")["resource"]["dataset_id"]
    deadline = time.monotonic() + 10
    while (shown := provledger("lineage", alone, token=health.token)).exit_code != 0:
        assert time.monotonic() < deadline, shown.output  # not indexed yet: 404 for a moment
        time.sleep(0.05)
    assert "no lineage" in shown.stdout

    unknown = provledger("lineage", "0x" + "ab" * 32, token=health.token)
    assert unknown.exit_code == 3
    assert "error: not-found:" in unknown.stderr
