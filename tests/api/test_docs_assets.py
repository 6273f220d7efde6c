"""The documentation assets committed in ``api/docs/static`` are the pinned npm packages'
files (patched where the table says), and are shipped in the wheel."""

from __future__ import annotations

import fnmatch
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from api.docs.assets import ASSETS, README, STATIC_DIR, diff, main, render, write
from ledger.compiler import project_root
from ledger.errors import ToolchainError


@pytest.fixture(scope="module")
def fresh() -> dict[str, bytes]:
    return render()


def test_the_check_passes_on_the_committed_assets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == "docs assets match the pinned npm packages\n"


def test_the_committed_assets_are_the_packages_files_byte_for_byte(
    fresh: dict[str, bytes],
) -> None:
    assert sorted(fresh) == sorted([*(asset.name for asset in ASSETS), README])
    assert diff(fresh) == []
    untouched = [asset for asset in ASSETS if not asset.patches]
    for asset in untouched:
        source = project_root() / "node_modules" / asset.package / asset.source
        assert (STATIC_DIR / asset.name).read_bytes() == source.read_bytes(), asset.name


def test_the_redoc_bundle_is_patched_not_to_fetch_its_logo(fresh: dict[str, bytes]) -> None:
    (redoc,) = (asset for asset in ASSETS if asset.name == "redoc.standalone.js")
    original = (project_root() / "node_modules" / redoc.package / redoc.source).read_bytes()

    assert b"https://cdn.redoc.ly/" in original
    assert b"https://cdn.redoc.ly/" not in fresh[redoc.name]
    assert len(fresh[redoc.name]) - len(original) == sum(
        len(patch.new) - len(patch.old) for patch in redoc.patches
    )


def test_a_changed_missing_or_extra_file_is_reported_and_rewritten(
    fresh: dict[str, bytes], tmp_path: Path
) -> None:
    copy = tmp_path / "static"
    shutil.copytree(STATIC_DIR, copy)
    (copy / "swagger-ui.css").write_text("body {}")
    (copy / "redoc.LICENSE").unlink()
    (copy / "swagger-ui.js.map").write_text("{}")

    assert diff(fresh, copy) == ["redoc.LICENSE", "swagger-ui.css", "swagger-ui.js.map"]
    written = write(fresh, copy)

    assert sorted(path.name for path in written) == ["redoc.LICENSE", "swagger-ui.css"]
    assert diff(fresh, copy) == []


def _packages(root: Path, *, redoc: bytes = b"", redoc_version: str = "4.5.6") -> Path:
    """A project root with made-up assets' packages (each file holds its name; ReDoc's bundle,
    ``redoc``) pinned at made-up versions."""
    pins = {"swagger-ui-dist": "1.2.3", "redoc": "4.5.6"}
    (root / "package.json").write_text(json.dumps({"dependencies": pins}))
    versions = {**pins, "redoc": redoc_version}
    for asset in ASSETS:
        path = root / "node_modules" / asset.package / asset.source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(redoc if asset.name == "redoc.standalone.js" else asset.name.encode())
    for package, version in versions.items():
        manifest = root / "node_modules" / package / "package.json"
        manifest.write_text(json.dumps({"version": version}))
    return root


def test_a_bundle_the_patch_no_longer_fits_stops_the_copy(tmp_path: Path) -> None:
    root = _packages(tmp_path, redoc=b"console.log('a new bundle')")

    with pytest.raises(ToolchainError, match="found it 0 times; review the patch"):
        render(root)


def test_packages_installed_at_other_versions_than_the_pins_are_refused(tmp_path: Path) -> None:
    root = _packages(tmp_path, redoc_version="4.5.5")

    with pytest.raises(
        ToolchainError, match=r"node_modules has redoc 4\.5\.5, package\.json pins 4\.5\.6"
    ):
        render(root)


def test_the_readme_notes_each_files_package_and_version(tmp_path: Path) -> None:
    logo = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
    files = render(_packages(tmp_path, redoc=logo))

    readme = files[README].decode()
    assert "| `redoc.standalone.js` | redoc@4.5.6 | `bundles/redoc.standalone.js` |" in readme
    assert "| `swagger-ui.css` | swagger-ui-dist@1.2.3 | `swagger-ui.css` |" in readme
    assert b"cdn.redoc.ly" not in files["redoc.standalone.js"]


def test_every_asset_is_package_data_of_the_wheel() -> None:
    pyproject = tomllib.loads((project_root() / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["api.docs"]
    package = STATIC_DIR.parent
    shipped = [
        path.name
        for path in STATIC_DIR.iterdir()
        if any(fnmatch.fnmatch(path.relative_to(package).as_posix(), p) for p in patterns)
    ]
    assert sorted(shipped) == sorted([*(asset.name for asset in ASSETS), README])
