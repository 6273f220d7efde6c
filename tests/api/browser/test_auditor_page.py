"""The auditor's page (``/``) in a real browser: files hashed in the page and verified, the
verdict checked against the chain from the browser, proof bundles downloaded and checked
offline, the page in English and Simplified Chinese, accessible, and asking no host but the
service."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from browsing import Visit
from playwright.sync_api import Locator, expect

from api.testing import LedgerService

#: What a verdict may take on a slow, shared CI machine: hashing, the API, the chain check.
SHOWN_WITHIN_MS = 30_000


def _register(ledger: LedgerService, content: bytes, *, department: int = 1, **extra: Any) -> str:
    """Register ``content`` (by hash) as a new dataset of ``department``; its id once the chain
    has confirmed it."""
    digest = "0x" + hashlib.sha256(content).hexdigest()
    with ledger.client(department) as client:
        accepted = client.create_dataset(digest, title=f"dataset {digest[2:10]}", **extra)
        operation = client.wait_for_operation(accepted.operation_id, timeout=60)
    assert operation.status == "confirmed", operation
    assert operation.result is not None
    return str(operation.result["dataset_id"])


def _unique(label: str) -> bytes:
    return f"{label} {os.urandom(16).hex()}\n".encode()


@pytest.fixture
def auditor(visit: Visit, ledger: LedgerService) -> Iterator[Visit]:
    """The page opened with the auditor's token entered (until anonymous reads land)."""
    visit.open("/")
    page = visit.page
    expect(page.locator("html")).to_have_attribute("data-ready", "true")
    page.get_by_label("API token (optional)").fill(ledger.auditor_token)
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("#token-state")).to_have_text("A token is in use in this tab.")
    yield visit


def _choose_file(visit: Visit, name: str, content: bytes) -> None:
    visit.page.locator("#file-input").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": content}]
    )


def _verdict(visit: Visit) -> Locator:
    section = visit.page.locator("#verdict")
    expect(section.locator("#verdict-heading")).to_be_visible(timeout=SHOWN_WITHIN_MS)
    return section


def test_a_file_registered_through_the_api_verifies_on_the_page(
    auditor: Visit, ledger: LedgerService
) -> None:
    content = _unique("ward,admissions")
    dataset = _register(ledger, content)

    _choose_file(auditor, "admissions.csv", content)

    verdict = _verdict(auditor)
    expect(verdict.locator(".verdict-status .badge")).to_have_text("✓ Registered")
    expect(verdict.locator("#verdict-heading")).to_have_text("Verdict for admissions.csv")
    facts = verdict.locator(".registration .facts")
    expect(facts).to_contain_text(dataset)
    expect(facts).to_contain_text("Department 1 (department 1)")
    expect(facts.locator(".confirmations")).not_to_have_text("—")
    row = auditor.page.locator("#results-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".result")).to_have_text("✓ Registered")
    auditor.page.wait_for_load_state("networkidle")
    auditor.assert_offline()
