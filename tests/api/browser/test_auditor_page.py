"""The auditor's page (``/``) in a real browser: files hashed in the page and verified, the
verdict checked against the chain from the browser, proof bundles downloaded and checked
offline, the page in English and Simplified Chinese, accessible, and asking no host but the
service."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browsing import Visit
from playwright.sync_api import Locator, expect

from api.testing import LedgerService
from ledger.compiler import project_root

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


#: axe-core's rules for WCAG 2.0 and 2.1, levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _open(visit: Visit, *, token: str | None = None, accept_language: str | None = None) -> None:
    """The page, ready, with ``token`` entered if given, and axe-core loaded
    (as an init script: the page's policy lets no script but its own run)."""
    axe = project_root() / "node_modules" / "axe-core" / "axe.min.js"
    visit.page.add_init_script(path=axe)
    if accept_language is not None:
        visit.page.set_extra_http_headers({"Accept-Language": accept_language})
    visit.open("/")
    page = visit.page
    expect(page.locator("html")).to_have_attribute("data-ready", "true")
    if token is not None:
        page.locator("#token-input").fill(token)
        page.locator("#token-form button[type=submit]").click()
        expect(page.locator("#token-state")).not_to_be_empty()


@pytest.fixture
def auditor(visit: Visit, ledger: LedgerService) -> Iterator[Visit]:
    """The page in English as an auditor opens it: with no token (the service reads, for
    anyone, what its chain shows anyone)."""
    _open(visit)
    expect(visit.page.locator("#token-state")).to_have_text(
        "No token: asking as an anonymous auditor."
    )
    yield visit


@pytest.fixture
def token_holder(visit: Visit, ledger: LedgerService) -> Iterator[Visit]:
    """The page with the auditor's token entered: what only this service holds (records
    registered in batches, on chain only as a Merkle root) is shown to token holders alone."""
    _open(visit, token=ledger.auditor_token)
    expect(visit.page.locator("#token-state")).to_have_text("A token is in use in this tab.")
    yield visit


def _serious_violations(visit: Visit) -> list[dict[str, Any]]:
    """What axe-core finds against WCAG 2.1 AA with a serious or critical impact."""
    results = visit.page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA
    )
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


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


def _one_byte_changed(content: bytes) -> bytes:
    return content[:-2] + bytes([content[-2] ^ 0x01]) + content[-1:]


def test_a_file_with_one_byte_changed_is_not_registered(
    auditor: Visit, ledger: LedgerService
) -> None:
    content = _unique("ward,admissions")
    _register(ledger, content)

    _choose_file(auditor, "admissions-edited.csv", _one_byte_changed(content))

    verdict = _verdict(auditor)
    expect(verdict.locator(".verdict-status .badge")).to_have_text("✗ Not registered")
    expect(verdict.locator(".registration")).to_have_count(0)
    expect(auditor.page.locator("#status")).to_contain_text("Not registered: 1")
    # Without a token, a record registered in a batch would look the same: the page says so.
    expect(verdict).to_contain_text("this service shows them to holders of a token")
    auditor.assert_offline()


def test_a_folder_gives_a_result_per_file(
    auditor: Visit, ledger: LedgerService, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    (folder / "2024").mkdir(parents=True)
    registered, edited, withdrawn = _unique("a"), _unique("b"), _unique("c")
    _register(ledger, registered)
    _register(ledger, edited)
    dataset = _register(ledger, withdrawn)
    with ledger.client(1) as client:
        operation = client.withdraw_dataset(dataset, reason="superseded").operation_id
        assert client.wait_for_operation(operation, timeout=60).status == "confirmed"
    (folder / "a.csv").write_bytes(registered)
    (folder / "2024" / "b.csv").write_bytes(_one_byte_changed(edited))
    (folder / "2024" / "c.csv").write_bytes(withdrawn)

    auditor.page.locator("#folder-input").set_input_files(folder)

    rows = auditor.page.locator("#results-table tbody tr")
    expect(rows).to_have_count(3, timeout=SHOWN_WITHIN_MS)
    expect(rows.locator("th")).to_have_text(
        ["exports/2024/b.csv", "exports/2024/c.csv", "exports/a.csv"]
    )
    expect(rows.locator(".result")).to_have_text(
        ["✗ Not registered", "! Withdrawn", "✓ Registered"], timeout=SHOWN_WITHIN_MS
    )
    rows.nth(1).get_by_role("button").click()
    verdict = _verdict(auditor)
    expect(verdict.locator("#verdict-heading")).to_have_text("Verdict for exports/2024/c.csv")
    expect(verdict.locator(".withdrawn-value")).to_contain_text(
        "Yes, since", timeout=SHOWN_WITHIN_MS
    )
    auditor.page.wait_for_load_state("networkidle")
    auditor.assert_offline()


def test_a_dropped_file_is_hashed_and_verified(auditor: Visit, ledger: LedgerService) -> None:
    content = _unique("dropped")
    _register(ledger, content)
    page = auditor.page
    transfer = page.evaluate_handle(
        "text => { const data = new DataTransfer(); "
        "data.items.add(new File([text], 'dropped.csv', {type: 'text/csv'})); return data; }",
        content.decode(),
    )

    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})

    expect(_verdict(auditor).locator(".verdict-status .badge")).to_have_text("✓ Registered")


def _fetch(route: Any, ledger: LedgerService) -> Any:
    """The service's answer to an intercepted request (fetched by Playwright itself, which
    knows the service by its loopback address, not the browser's name for it)."""
    path = route.request.url.split("/", 3)[3]
    return route.fetch(url=f"{ledger.url}/{path}")


def _check_on_chain(visit: Visit) -> Locator:
    verdict = _verdict(visit)
    verdict.get_by_role("button", name="Check it yourself against the chain").click()
    summary = verdict.locator("#chain-summary")
    expect(summary).to_be_visible(timeout=SHOWN_WITHIN_MS)
    return verdict


def test_the_browsers_chain_check_agrees_with_the_service(
    auditor: Visit, ledger: LedgerService
) -> None:
    parent = _unique("parent")
    parent_id = _register(ledger, parent, department=2)
    content = _unique("derived")
    _register(ledger, content, parents=[(parent_id, 1)])
    with ledger.client("auditor") as client:
        service = client.verify_batch(["0x" + hashlib.sha256(content).hexdigest()])
    assert service["results"][0]["status"] == "matched"

    _choose_file(auditor, "derived.csv", content)
    verdict = _check_on_chain(auditor)

    checks = verdict.locator(".checks li")
    expect(verdict.locator("#chain-summary")).to_have_text(
        re.compile(r"All \d+ checks passed against the chain\.")
    )
    expect(verdict.locator("#chain-agreement")).to_have_text(
        "The browser's own check agrees with the service's verdict."
    )
    texts = checks.all_inner_texts()
    assert len(texts) >= 10 and all(text.startswith("✓ Passed") for text in texts), texts
    assert any("signer recovered from the transaction" in text for text in texts)
    assert any("key in force at that block" in text for text in texts)
    # The lineage crosses departments: department 2's parent, department 1's version.
    graph = verdict.locator("svg.lineage")
    expect(graph.locator("g.node")).to_have_count(2)
    expect(verdict.locator(".legend li")).to_have_text(["Department 1", "Department 2"])
    expect(verdict.locator(".edges li")).to_have_count(1)
    # Every request of the chain check went to the service's /rpc.
    assert f"{auditor.base_url}/rpc" in auditor.requests
    auditor.page.wait_for_load_state("networkidle")
    auditor.assert_offline()


def test_a_batched_record_is_checked_against_its_anchor_in_the_browser(
    token_holder: Visit, ledger: LedgerService
) -> None:
    content = _unique("batched")
    digest = "0x" + hashlib.sha256(content).hexdigest()
    with ledger.client(1) as client:
        queued = client.register_batch([{"content_hash": digest, "metadata": {"title": "day"}}])
        operation = client.wait_for_operation(queued["records"][0]["operation_id"], timeout=60)
    assert operation.status == "confirmed", operation

    _choose_file(token_holder, "day.csv", content)
    verdict = _check_on_chain(token_holder)

    expect(verdict.locator(".facts").last).to_contain_text("Batch root")
    expect(verdict.locator("#chain-summary")).to_contain_text("checks passed against the chain")
    texts = verdict.locator(".checks li").all_inner_texts()
    assert all(text.startswith("✓ Passed") for text in texts), texts
    assert any("inclusion proof leads to the batch root" in text for text in texts)
    assert any("BatchAnchored event" in text for text in texts)


def test_a_verdict_the_chain_contradicts_fails_the_browsers_check(
    auditor: Visit, ledger: LedgerService
) -> None:
    """The check does not take the service's word: a verdict altered on its way to the page
    (a signer that is not the department's key) is caught against the chain."""
    content = _unique("altered")
    _register(ledger, content)

    def alter(route: Any) -> None:
        answer = _fetch(route, ledger)
        verdict = answer.json()
        forged = "0x" + "11" * 20
        verdict["registrations"][0]["signer"] = forged
        verdict["registrations"][0]["department_key"] = forged
        route.fulfill(response=answer, json=verdict)

    auditor.page.route("**/v1/verify", alter)
    _choose_file(auditor, "altered.csv", content)
    verdict = _check_on_chain(auditor)

    expect(verdict.locator("#chain-summary")).to_contain_text("checks failed against the chain")
    expect(verdict.locator("#chain-agreement")).to_have_text(
        "The browser's own check does not agree with the service's verdict."
    )
    failed = verdict.locator(".checks li.failed").all_inner_texts()
    assert any("signer recovered from the transaction" in text for text in failed), failed


def _download_bundle(visit: Visit) -> tuple[Path, dict[str, Any]]:
    with visit.page.expect_download() as download:
        visit.page.locator("#download-bundle").click()
    path = Path(download.value.path())
    assert download.value.suggested_filename.startswith("provledger-bundle-")
    return path, json.loads(path.read_text())


def _load_bundle(visit: Visit, name: str, bundle: dict[str, Any]) -> Locator:
    visit.page.locator("#bundle-input").set_input_files(
        files=[
            {"name": name, "mimeType": "application/json", "buffer": json.dumps(bundle).encode()}
        ]
    )
    summary = visit.page.locator("#bundle-summary")
    expect(summary).to_be_visible(timeout=SHOWN_WITHIN_MS)
    return summary


def test_a_downloaded_bundle_is_checked_offline(auditor: Visit, ledger: LedgerService) -> None:
    content = _unique("bundled")
    digest = "0x" + hashlib.sha256(content).hexdigest()
    _register(ledger, content)
    _choose_file(auditor, "bundled.csv", content)
    _verdict(auditor)

    _, bundle = _download_bundle(auditor)

    assert bundle["format"] == "provledger-proof-bundle/1"
    assert bundle["content_hash"] == digest
    auditor.page.wait_for_load_state("networkidle")
    asked = len(auditor.requests)
    auditor.page.context.set_offline(True)
    summary = _load_bundle(auditor, "bundle.json", bundle)
    expect(summary).to_have_text(re.compile(r"Checked offline: \d+ checks passed\."))
    assert len(auditor.requests) == asked  # not one request: the check is the browser's own


def test_a_bundle_with_a_tampered_signature_fails_offline(
    auditor: Visit, ledger: LedgerService
) -> None:
    content = _unique("tampered")
    _register(ledger, content)
    _choose_file(auditor, "tampered.csv", content)
    _verdict(auditor)
    _, bundle = _download_bundle(auditor)
    signature = bundle["registrations"][0]["signature"]
    bundle["registrations"][0]["signature"] = (
        signature[:10] + ("0" if signature[10] != "0" else "1") + signature[11:]
    )

    summary = _load_bundle(auditor, "tampered.json", bundle)

    expect(summary).to_have_text(re.compile(r"Checked offline: 1 of \d+ checks failed\."))
    failed = auditor.page.locator("#bundle-result .checks li.failed")
    expect(failed).to_contain_text("the signature recovers to the signer shown")


def test_a_bundle_with_a_tampered_record_fails_its_inclusion_proof(
    auditor: Visit, ledger: LedgerService
) -> None:
    content = _unique("batched")
    digest = "0x" + hashlib.sha256(content).hexdigest()
    with ledger.client(1) as client:
        queued = client.register_batch([{"content_hash": digest, "metadata": {"title": "day"}}])
        client.wait_for_operation(queued["records"][0]["operation_id"], timeout=60)
        bundle = client._http.post("/v1/verify", {"content_hash": digest})
    record = bundle["registrations"][0]["anchor"]["record"]
    record["version"] = 2  # claims a later version than the department anchored

    summary = _load_bundle(auditor, "forged.json", dict(bundle))

    expect(summary).to_contain_text("checks failed")
    failed = auditor.page.locator("#bundle-result .checks li.failed").all_inner_texts()
    assert any("inclusion proof leads to the batch root" in text for text in failed), failed


def test_the_page_is_in_chinese_for_chinese_browsers_and_switches(
    visit: Visit, ledger: LedgerService
) -> None:
    _open(visit, token=ledger.auditor_token, accept_language="zh-CN,zh;q=0.9,en;q=0.5")
    page = visit.page

    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("对照账本核验数据集")
    expect(page.get_by_role("button", name="选择文件夹")).to_be_visible()
    content = _unique("zh")
    _register(ledger, content)
    _choose_file(visit, "数据.csv", content)
    verdict = _verdict(visit)
    expect(verdict.locator("#verdict-heading")).to_have_text("数据.csv 的核验结论")
    expect(verdict.locator(".verdict-status .badge")).to_have_text("✓ 已登记")

    page.get_by_role("button", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check a dataset against the ledger")
    expect(verdict.locator(".verdict-status .badge")).to_have_text("✓ Registered")
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    # Remembered: the next visit is in English whatever the browser asks for.
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check a dataset against the ledger")


@pytest.mark.parametrize("accept_language", ["en", "zh-CN"])
def test_axe_finds_no_serious_violation_on_the_page(
    visit: Visit, ledger: LedgerService, accept_language: str
) -> None:
    _open(visit, accept_language=accept_language)

    assert _serious_violations(visit) == []


def test_axe_finds_no_serious_violation_in_a_verdict_and_its_checks(
    auditor: Visit, ledger: LedgerService
) -> None:
    parent_id = _register(ledger, _unique("parent"), department=2)
    content = _unique("child")
    _register(ledger, content, parents=[(parent_id, 1)])
    _choose_file(auditor, "child.csv", content)
    verdict = _check_on_chain(auditor)
    verdict.locator(".edge-list summary").click()
    _, bundle = _download_bundle(auditor)
    _load_bundle(auditor, "bundle.json", bundle)

    assert _serious_violations(auditor) == []
    auditor.page.get_by_role("button", name="简体中文").click()
    # Re-rendered in Chinese, the checks already run kept.
    expect(verdict.locator("#chain-summary")).to_contain_text("项检查均已通过")
    expect(auditor.page.locator("#bundle-summary")).to_contain_text("离线核验")
    assert _serious_violations(auditor) == []


def _grant(ledger: LedgerService, dataset: str, *, to: int = 2) -> dict[str, Any]:
    """Department ``to`` asks for access to ``dataset`` and its owner (department 1) approves,
    both confirmed on chain; the grant as the service lists it, once indexed."""
    with ledger.client(to) as requester, ledger.client(1) as owner:
        asked = requester.request_access(dataset, purpose="audit", duration_seconds=86_400)
        requested = requester.wait_for_operation(asked.operation_id, timeout=60)
        assert requested.status == "confirmed", requested
        request_id = str(asked.resource["request_id"])
        approved = owner.approve_access(request_id, expires_at=int(time.time()) + 86_400)
        assert owner.wait_for_operation(approved.operation_id, timeout=60).status == "confirmed"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = [g for g in owner.grants(dataset)["grants"] if g["request_id"] == request_id]
            if listed:
                return listed[0]
            time.sleep(0.2)
    raise AssertionError(f"grant {request_id} not indexed within 30 s")


def test_the_access_panel_says_when_no_grant_is_in_force(
    auditor: Visit, ledger: LedgerService
) -> None:
    content = _unique("access")
    _register(ledger, content)
    _choose_file(auditor, "access.csv", content)

    access = _verdict(auditor).locator(".access")

    expect(access).to_contain_text("No grant is in force.")
    expect(access.locator("form")).to_be_visible()
    auditor.page.wait_for_load_state("networkidle")
    auditor.assert_offline()


def test_the_access_panel_shows_grants_now_and_none_before_the_approval(
    auditor: Visit, ledger: LedgerService
) -> None:
    """A real grant, asked for by department 2 and approved by department 1 through the API,
    listed without a token with its approval's chain coordinates; at a date before it, none."""
    content = _unique("granted")
    dataset = _register(ledger, content)
    grant = _grant(ledger, dataset)
    asked: list[str] = []
    auditor.page.on(
        "request", lambda request: asked.append(request.url) if "/grants" in request.url else None
    )

    _choose_file(auditor, "granted.csv", content)
    access = _verdict(auditor).locator(".access")

    row = access.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text("Department 2 (no. 2)")
    expect(row).to_contain_text(f"block {grant['approved']['block_number']}")
    expect(row.locator("td").last).to_have_text("—")
    access.get_by_label("At a past date and time (UTC)").fill("2024-01-02T03:04:05")
    access.get_by_role("button", name="Show", exact=True).click()
    expect(access).to_contain_text("No grant is in force.")
    assert asked[-1].endswith("?at=2024-01-02T03%3A04%3A05.000Z")
    access.get_by_role("button", name="Show now").click()
    expect(row).to_have_count(1)
    auditor.assert_offline()


def test_the_access_panel_shows_how_a_grant_in_force_then_ended_since(
    auditor: Visit, ledger: LedgerService
) -> None:
    content = _unique("revoked")
    dataset = _register(ledger, content)
    grant = _grant(ledger, dataset)
    with ledger.client(1) as owner:
        revoked = owner.revoke_access(grant["request_id"], reason="audit over")
        assert owner.wait_for_operation(revoked.operation_id, timeout=60).status == "confirmed"
        deadline = time.monotonic() + 30
        while owner.grants(dataset)["grants"] and time.monotonic() < deadline:
            time.sleep(0.2)
        ended = owner.grants(dataset, at=grant["approved_at"])["grants"][0]["ended"]
    assert ended is not None and ended["how"] == "revoked"

    _choose_file(auditor, "revoked.csv", content)
    access = _verdict(auditor).locator(".access")
    expect(access).to_contain_text("No grant is in force.")
    approved_at = datetime.fromtimestamp(grant["approved_at"], UTC)
    access.get_by_label("At a past date and time (UTC)").fill(
        approved_at.strftime("%Y-%m-%dT%H:%M:%S")
    )
    access.get_by_role("button", name="Show", exact=True).click()

    row = access.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").last).to_contain_text("Revoked")
    expect(row.locator("td").last).to_contain_text(f"block {ended['chain']['block_number']}")


def test_a_token_is_sent_only_once_entered_and_kept_in_the_tab_only(
    visit: Visit, ledger: LedgerService
) -> None:
    sent: list[tuple[str | None, str]] = []
    visit.page.on(
        "request",
        lambda request: (
            sent.append((request.headers.get("authorization"), request.url))
            if "/v1/" in request.url
            else None
        ),
    )
    _open(visit)
    content = _unique("anonymous")
    _register(ledger, content)

    _choose_file(visit, "anonymous.csv", content)
    verdict = _verdict(visit)
    expect(verdict.locator(".verdict-status .badge")).to_have_text("✓ Registered")
    # The panels' reads are done once they show their answers (the lineage is shown after
    # its datasets are read; "network idle" alone can come between two of them).
    expect(verdict.locator(".lineage-slot")).to_contain_text(
        "This dataset has no recorded parents or derived datasets."
    )
    expect(verdict.locator(".access")).to_contain_text("No grant is in force.")
    assert sent and {header for header, _ in sent} == {None}  # anonymous: no header at all

    asked_before = len(sent)
    visit.page.locator("#token-input").fill(ledger.auditor_token)
    visit.page.locator("#token-input").press("Enter")
    _choose_file(visit, "anonymous.csv", content)
    expect(_verdict(visit).locator(".verdict-status .badge")).to_have_text("✓ Registered")
    assert sent[asked_before:]
    assert {header for header, _ in sent[asked_before:]} == {f"Bearer {ledger.auditor_token}"}, (
        sent[asked_before:]
    )
    storage = visit.page.evaluate(
        "() => [JSON.stringify(localStorage), JSON.stringify(sessionStorage), location.href]"
    )
    assert ledger.auditor_token not in storage[0] + storage[2]
    assert ledger.auditor_token in storage[1]
    visit.page.get_by_role("button", name="Forget token").click()
    assert visit.page.evaluate("() => sessionStorage.length") == 0


def test_a_service_that_wants_a_token_is_answered_with_a_request_for_one(
    visit: Visit, ledger: LedgerService
) -> None:
    """Where reads need a token (``PROVLEDGER_PUBLIC_READS=token``), the service answers 401 as
    here (its body as the service words it); the page asks for a token."""

    def wanting(route: Any) -> None:
        route.fulfill(
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
            json={"code": "unauthenticated", "detail": "an API token is required"},
        )

    visit.page.route("**/v1/verify*", wanting)
    _open(visit)
    _choose_file(visit, "wanting.csv", _unique("wanting"))

    expect(visit.page.locator("#status")).to_have_text(
        "This service needs an API token for that: enter one above."
    )


def test_the_pickers_are_buttons_a_keyboard_reaches(auditor: Visit) -> None:
    page = auditor.page
    # Playwright turns the browser's chooser interception on when first asked to wait for a
    # chooser, without waiting for it: on a loaded machine the first chooser could open
    # before, and no event came. A listener turns it on now; a round trip sees it done.
    page.on("filechooser", lambda _: None)
    page.evaluate("() => 0")
    page.get_by_role("button", name="Choose a file").focus()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert not chooser.value.is_multiple()
    chooser.value.set_files([])  # closed with nothing chosen
    expect(page.get_by_role("button", name="Choose a file")).to_be_focused()
    # Chromium shows one chooser per page at a time and learns of the closing asynchronously:
    # the folder picker is tried on the page afresh, reached from the file picker by Tab.
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-ready", "true")
    page.get_by_role("button", name="Choose a file").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Choose a folder")).to_be_focused()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    assert chooser.value.is_multiple()
    expect(page.locator("#results")).to_be_hidden()  # nothing chosen, nothing checked


def test_a_large_file_is_hashed_in_chunks_and_only_its_hash_is_sent(
    auditor: Visit, ledger: LedgerService
) -> None:
    content = os.urandom(5 * 1024 * 1024 + 17)  # many File.stream() chunks, one partial
    _register(ledger, content)
    bodies: list[bytes] = []
    auditor.page.on(
        "request",
        lambda request: (
            bodies.append(request.post_data_buffer or b"")
            if request.method == "POST" and "/v1/" in request.url
            else None
        ),
    )

    _choose_file(auditor, "large.bin", content)

    expect(_verdict(auditor).locator(".verdict-status .badge")).to_have_text("✓ Registered")
    expect(auditor.page.locator("#progress")).to_be_hidden()
    digest = "0x" + hashlib.sha256(content).hexdigest()
    assert [json.loads(body) for body in bodies] == [{"content_hash": digest}]
