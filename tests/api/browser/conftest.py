"""Pages of the service opened in a real browser: Debian's Chromium driven by Playwright.

One service (its embedded chain, served on loopback, its relayer and indexer running, with
departments 1 and 2 and an auditor token: :func:`api.testing.serve_ledger`) and one browser
per module; each test
gets a fresh context and page that record what the page did (:class:`browsing.Visit`). Without
a system Chromium the tests are skipped, unless ``PROVLEDGER_REQUIRE_BROWSER=1`` (CI sets it:
there a missing browser is a failure).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from browsing import (
    CHROMIUM_ENV,
    DEFAULT_CHROMIUM,
    REQUIRE_ENV,
    SERVICE_HOST,
    Visit,
    chromium_executable,
)
from playwright.sync_api import Browser, ConsoleMessage, Playwright, sync_playwright
from playwright.sync_api import Request as BrowserRequest

from api.testing import LedgerService, serve_ledger


# Module scope, as the browser below: a directory without __init__.py is no package to
# pytest, so "package" scope kept this service, its relayer and indexer polling, running beside
# every later test of the session (the 200-client storms of test_concurrent_requests shared
# the process with it).
@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerService]:
    """The service on its embedded chain, served on a loopback port, writes confirmed by its
    relayer (the auditor's page verifies what departments registered through the API)."""
    with serve_ledger(tmp_path_factory.mktemp("browser-service")) as served:
        yield served


@pytest.fixture(scope="module")
def service(ledger: LedgerService) -> str:
    """The service's base URL."""
    return ledger.url


# Module scope, not wider: Playwright's sync API keeps an asyncio loop running in this thread
# while it is open, and every later test that calls asyncio.run() would fail
# ("cannot be called from a running event loop"). A directory without __init__.py is no
# package to pytest, so "package" scope lasted the whole session.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    executable = chromium_executable()
    if executable is None:
        looked = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
        reason = f"no Chromium at {looked} (apt-get install chromium, or set ${CHROMIUM_ENV})"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}, and {REQUIRE_ENV}=1")
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium_executable()
    assert executable is not None  # the playwright fixture skipped otherwise
    browser = playwright.chromium.launch(
        executable_path=executable,
        args=[
            # Resolved in the browser's own resolver: the service's name, and nothing else.
            f"--host-resolver-rules=MAP {SERVICE_HOST} 127.0.0.1, MAP * ~NOTFOUND",
            "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB
        ],
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def visit(browser: Browser, service: str) -> Iterator[Visit]:
    """A fresh browser context (no cache, no cookies) on the service, recording."""
    base_url = f"http://{SERVICE_HOST}:{urlsplit(service).port}"
    context = browser.new_context()
    page = context.new_page()
    seen = Visit(page, base_url)

    def requested(request: BrowserRequest) -> None:
        if not request.url.startswith("data:"):
            seen.requests.append(request.url)

    def failed(request: BrowserRequest) -> None:
        seen.failed.append(f"{request.url}: {request.failure}")

    def logged(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.errors.append(f"console: {message.text}")

    context.on("request", requested)
    context.on("requestfailed", failed)
    page.on("console", logged)
    page.on("pageerror", lambda error: seen.errors.append(f"uncaught: {error}"))
    try:
        yield seen
    finally:
        context.close()
