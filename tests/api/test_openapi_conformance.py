"""Schemathesis against the real app: every operation, with a department's token and with an
auditor's, generated from the OpenAPI document, under all of schemathesis's checks. No 5xx, no
status code, content type or header the document does not declare, answers that match their
schemas, schema-valid requests accepted and invalid ones refused, 405s that carry ``Allow``.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from live_server import serve_in_thread
from schemathesis.core.parameters import ParameterLocation

from api.app import create_app
from ledger.config import Settings
from ledger.runtime import Runtime

# The document depends on the routes and the configuration, not on a chain or a database: build
# it from an app with default settings and nothing opened.
_UNOPENED = cast(Runtime, SimpleNamespace(settings=Settings()))
schema = schemathesis.openapi.from_dict(create_app(_UNOPENED, start_workers=False).openapi())


#: Headers that frame the HTTP message itself rather than carry the API's input. A generated
#: value for one (``Transfer-Encoding: MzOw"9``) makes bytes that are no HTTP request: the
#: server's HTTP parser (h11) refuses them with its own plain-text 400 before any application
#: code runs, so they test the parser, not this document.
FRAMING_HEADERS = frozenset({"transfer-encoding", "content-length", "connection", "host"})


@pytest.fixture
def base_url(runtime: Runtime) -> Iterator[str]:
    """The app served by uvicorn over a real socket: schemathesis judges the HTTP service as a
    client meets it. Requests come one at a time, so the bare eth-tester chain is safe. The
    fuzzer gets thousands of 4xx on purpose: its error budget (api.throttle) is unlimited."""
    runtime.settings = runtime.settings.model_copy(update={"error_rate": 1e9, "error_burst": 1e9})
    with serve_in_thread(runtime, start_workers=False) as url:
        yield url


@pytest.fixture
def tokens(
    client: TestClient, governance: dict[str, str], departments: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    auditor = client.post("/v1/auditors", json={"label": "fuzz"}, headers=governance).json()
    return {
        "department": departments["a"],
        "auditor": {"Authorization": f"Bearer {auditor['token']}"},
    }


@pytest.mark.parametrize("principal", ["department", "auditor"])
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_service_conforms_to_its_openapi_document(
    case: Any, principal: str, base_url: str, tokens: dict[str, dict[str, str]]
) -> None:
    # A case generated to break the headers (one without Authorization, say) is sent as it is;
    # every other case carries the principal's token.
    breaks_headers = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    headers = None if breaks_headers else tokens[principal]
    for name in [name for name in case.headers or {} if name.lower() in FRAMING_HEADERS]:
        del case.headers[name]
    case.call_and_validate(base_url=base_url, headers=headers)
