"""``/docs`` and ``/redoc`` work on a host without internet: they render the API from the
service's own assets, and the browser asks no other host for anything."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from browsing import Visit
from playwright.sync_api import Locator

from api.docs.assets import ASSETS
from ledger.compiler import project_root

#: What a page may take to render on a slow CI machine.
RENDERED_WITHIN_MS = 20_000


@pytest.fixture(scope="module")
def document(service: str) -> dict[str, Any]:
    """The OpenAPI document the pages show, as the service serves it."""
    with urllib.request.urlopen(f"{service}/openapi.json") as answer:
        document: dict[str, Any] = json.load(answer)
    return document


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    return operation


def _swagger_ui_block(visit: Visit, operation: dict[str, Any]) -> Locator:
    """``/docs`` opened, and the block of ``operation`` once Swagger UI shows it."""
    visit.open("/docs")
    block = visit.page.locator(f"#operations-{operation['tags'][0]}-{operation['operationId']}")
    block.wait_for(state="visible", timeout=RENDERED_WITHIN_MS)
    return block


def test_swagger_ui_shows_every_operation_asking_only_the_service(
    visit: Visit, document: dict[str, Any]
) -> None:
    verify = _operation(document, "/v1/verify", "post")

    block = _swagger_ui_block(visit, verify)

    assert block.locator(".opblock-summary-path").inner_text() == "/v1/verify"
    assert block.locator(".opblock-summary-description").inner_text() == verify["summary"]
    operations = sum(len(methods) for methods in document["paths"].values())
    assert visit.page.locator(".opblock").count() == operations
    visit.page.wait_for_load_state("networkidle")
    visit.assert_offline()


def test_swagger_ui_tries_an_operation_out_on_the_service(
    visit: Visit, document: dict[str, Any]
) -> None:
    """The page's policy leaves its requests to the service alone: "Try it out" works."""
    block = _swagger_ui_block(visit, _operation(document, "/healthz", "get"))

    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    block.get_by_role("button", name="Execute").click()

    status = block.locator(".live-responses-table .response .response-col_status")
    status.wait_for(timeout=RENDERED_WITHIN_MS)
    assert status.inner_text().strip() == "200"
    assert f"{visit.base_url}/healthz" in visit.requests
    visit.assert_offline()


def test_redoc_shows_the_title_and_the_operations_asking_only_the_service(
    visit: Visit, document: dict[str, Any]
) -> None:
    verify = _operation(document, "/v1/verify", "post")
    info = document["info"]

    visit.open("/redoc")

    title = visit.page.get_by_role("heading", level=1)
    title.wait_for(timeout=RENDERED_WITHIN_MS)
    assert title.inner_text() == f"{info['title']} ({info['version']})"
    anchor = f'a[href="#tag/verify/operation/{verify["operationId"]}"]'
    heading = visit.page.locator("h2").filter(has=visit.page.locator(anchor))
    assert heading.inner_text().strip() == verify["summary"]
    operations = sum(len(methods) for methods in document["paths"].values())
    assert visit.page.locator("h2 > a[href*='/operation/']").count() == operations
    visit.page.wait_for_load_state("networkidle")
    visit.assert_offline()


def test_the_browser_would_report_a_request_to_another_host(visit: Visit) -> None:
    """The recording sees what the pages must not do: a page of redoc's own bundle, unpatched,
    fetches Redocly's logo from its CDN (and, here as offline, cannot resolve it)."""
    original = next(asset for asset in ASSETS if asset.name == "redoc.standalone.js")
    bundle = project_root() / "node_modules" / original.package / original.source
    visit.page.route("**/redoc.standalone.js", lambda route: route.fulfill(path=bundle, status=200))

    visit.open("/redoc")

    visit.page.get_by_role("heading", level=1).wait_for(timeout=RENDERED_WITHIN_MS)
    visit.page.wait_for_load_state("networkidle")
    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    # Chromium refuses it under the page's Content Security Policy: said on the console.
    assert any(logo in error and "Content Security Policy" in error for error in visit.errors)


def test_a_page_without_the_policy_would_reach_for_another_host(visit: Visit) -> None:
    visit.open("/healthz")  # an answer of the service with no Content Security Policy
    visit.page.evaluate(
        "url => new Promise(done => { const image = new Image(); "
        "image.onerror = image.onload = done; image.src = url; })",
        "https://fonts.example.org/font.png",
    )
    assert visit.elsewhere() == ["https://fonts.example.org/font.png"]
    assert visit.failed == ["https://fonts.example.org/font.png: net::ERR_NAME_NOT_RESOLVED"]
