"""The auditor's page committed in ``api/auditor/{static,page}`` is a fresh build of
``web/auditor`` by the pinned esbuild, and is shipped in the wheel."""

from __future__ import annotations

import fnmatch
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from api.auditor import PAGE_DIR, STATIC_DIR
from api.auditor.build import README, SOURCES, main, messages, pinned_versions, render
from ledger.compiler import project_root
from ledger.errors import ToolchainError


@pytest.fixture(scope="module")
def fresh() -> tuple[dict[str, bytes], dict[str, bytes]]:
    return render()


def test_the_check_passes_on_the_committed_build(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == "the auditor's page is a fresh build of web/auditor\n"


def test_the_build_is_deterministic(fresh: tuple[dict[str, bytes], dict[str, bytes]]) -> None:
    assert render() == fresh
    static, page = fresh
    assert sorted(static) == sorted(
        ["auditor.js", "auditor.css", "THIRD-PARTY-LICENSES.txt", README]
    )
    assert sorted(page) == ["index.html", "messages.json"]
    root = str(project_root()).encode()
    assert all(root not in content for content in static.values())


def test_the_bundle_carries_the_licences_of_what_it_bundles(
    fresh: tuple[dict[str, bytes], dict[str, bytes]],
) -> None:
    licences = fresh[0]["THIRD-PARTY-LICENSES.txt"].decode()
    versions = pinned_versions(project_root())

    assert f"ethers@{versions['ethers']} (MIT)" in licences
    assert f"hash-wasm@{versions['hash-wasm']} (MIT)" in licences


def test_a_changed_source_makes_the_check_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    static = tmp_path / "static"
    shutil.copytree(STATIC_DIR, static)
    (static / "auditor.css").write_text("body {}")
    monkeypatch.setattr("api.auditor.build.STATIC_DIR", static)

    assert main(["--check"]) == 1
    assert "the auditor's page is stale: static/auditor.css" in capsys.readouterr().err


def test_catalogues_with_other_keys_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / SOURCES / "messages"
    folder.mkdir(parents=True)
    (folder / "en.json").write_text(json.dumps({"a": "A", "b": "B"}))
    (folder / "zh-CN.json").write_text(json.dumps({"a": "甲", "c": "丙"}))

    with pytest.raises(ToolchainError, match=r"missing \['b'\], extra \['c'\]"):
        messages(tmp_path)


def test_packages_at_other_versions_than_the_pins_are_refused(tmp_path: Path) -> None:
    pins = {"esbuild": "0.1.0", "ethers": "6.0.0", "hash-wasm": "4.0.0"}
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": pins}))
    for package, version in {**pins, "ethers": "5.0.0"}.items():
        manifest = tmp_path / "node_modules" / package / "package.json"
        manifest.parent.mkdir(parents=True)
        manifest.write_text(json.dumps({"version": version}))

    with pytest.raises(ToolchainError, match=r"node_modules has ethers 5\.0\.0, package\.json"):
        pinned_versions(tmp_path)


def test_the_build_is_package_data_of_the_wheel() -> None:
    pyproject = tomllib.loads((project_root() / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["api.auditor"]
    package = STATIC_DIR.parent
    for directory in (STATIC_DIR, PAGE_DIR):
        for path in directory.iterdir():
            relative = path.relative_to(package).as_posix()
            assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
