"""The client commands start quickly and agree with the service on the names they share."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

from api import app as service_app
from api import schemas
from api.commands import common, datasets


def test_the_cli_offers_exactly_the_classifications_the_api_accepts() -> None:
    assert get_args(datasets.Classification) == get_args(schemas.Classification)
    assert get_args(datasets.Classification) == schemas.CLASSIFICATIONS


def test_the_cli_looks_for_the_governance_token_where_the_service_writes_it() -> None:
    assert common.GOVERNANCE_TOKEN_FILE == service_app.GOVERNANCE_TOKEN_FILE


def test_starting_the_cli_builds_neither_the_service_nor_its_schemas() -> None:
    # Importing the service takes seconds and the schemas a third of one: every command,
    # `provledger hash` included, would pay that before doing anything.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, api.cli; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for heavy in ("'api.app'", "'api.schemas'", "'web3'", "'fastapi'", "'httpx2'"):
        assert heavy not in loaded
