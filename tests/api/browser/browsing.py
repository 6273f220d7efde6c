"""A browser for the tests that cannot go anywhere but the service, and what a page did in it.

The browser is the system's (``/usr/bin/chromium``, or ``PROVLEDGER_CHROMIUM``), never one
Playwright downloads (``playwright install`` fails offline): the tests must run where there is
no internet, as the pages must.

The browser resolves one name, ``provledger.test``, to the service on loopback and no other
name at all, as on a network without internet (``net::ERR_NAME_NOT_RESOLVED``); the service is
not on ``localhost`` in its eyes, so scripts that behave differently there (Swagger UI's
validator badge) behave as on a real host. Every request a page makes is recorded
(:class:`Visit`), including those that fail, so a test can show that none left the service.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page

CHROMIUM_ENV = "PROVLEDGER_CHROMIUM"
REQUIRE_ENV = "PROVLEDGER_REQUIRE_BROWSER"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

#: The name the browser knows the service by; it resolves no other.
SERVICE_HOST = "provledger.test"


def chromium_executable() -> Path | None:
    """The system's Chromium, or None."""
    configured = os.environ.get(CHROMIUM_ENV)
    path = configured or shutil.which("chromium") or DEFAULT_CHROMIUM
    return Path(path) if Path(path).is_file() else None


@dataclass
class Visit:
    """A page of the service and what it did: every request, failed request, console error
    and uncaught exception."""

    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        response = self.page.goto(self.base_url + path, wait_until="load")
        assert response is not None and response.status == 200, response

    def elsewhere(self) -> list[str]:
        """The requests that went to any host but the service (a ``blob:`` URL is made by a
        page, of its origin's data: ReDoc's search worker)."""
        service = urlsplit(self.base_url).netloc
        return [
            url for url in self.requests if urlsplit(url.removeprefix("blob:")).netloc != service
        ]

    def assert_offline(self) -> None:
        """No request went anywhere but the service, none failed, nothing was logged as an
        error."""
        assert self.elsewhere() == []
        assert self.failed == []
        assert self.errors == []
