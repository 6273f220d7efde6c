"""``/docs`` and ``/redoc`` as HTTP answers: pages that name only the service's own assets,
assets served with their types and a cache lifetime, nothing of it in the OpenAPI document.
(What a browser makes of them: ``tests/api/browser``.)"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.docs import ASSETS_PATH, CONTENT_SECURITY_POLICY, IMMUTABLE, assets_tag

#: Every URL a page of FastAPI's makes the browser load: attributes, and Swagger UI's ``url``.
_LINKS = re.compile(r"""(?:src|href|spec-url)="([^"]*)"|url: '([^']*)'""")


def _links(html: str) -> list[str]:
    return [attribute or option for attribute, option in _LINKS.findall(html)]


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", ["swagger-ui.css", "favicon-32x32.png", "swagger-ui-bundle.js"]),
        ("/redoc", ["favicon-32x32.png", "redoc.standalone.js"]),
    ],
)
def test_a_page_names_only_the_services_assets_and_its_document(
    client: TestClient, page: str, assets: list[str]
) -> None:
    answer = client.get(page)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["cache-control"] == "no-cache"
    base = f"{ASSETS_PATH}/{assets_tag()}"
    assert sorted(_links(answer.text)) == sorted(
        [*(f"{base}/{name}" for name in assets), "/openapi.json"]
    )
    # No font, favicon or script from another host, not even in a comment.
    assert not re.search(r"https?://", answer.text)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        ("swagger-ui.css", "text/css; charset=utf-8"),
        ("redoc.standalone.js", "text/javascript; charset=utf-8"),
        ("favicon-32x32.png", "image/png"),
    ],
)
def test_an_asset_is_served_with_its_type_for_a_year_and_revalidates_as_unchanged(
    client: TestClient, name: str, content_type: str
) -> None:
    answer = client.get(f"{ASSETS_PATH}/{assets_tag()}/{name}")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == content_type
    assert answer.headers["cache-control"] == IMMUTABLE
    again = client.get(
        f"{ASSETS_PATH}/{assets_tag()}/{name}",
        headers={"If-None-Match": answer.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    "path",
    [f"{ASSETS_PATH}/0123456789abcdef/swagger-ui.css", f"{ASSETS_PATH}/{{tag}}/missing.js"],
)
def test_an_asset_of_another_version_or_none_is_a_problem_404(
    client: TestClient, path: str
) -> None:
    answer = client.get(path.format(tag=assets_tag()))

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "not-found"


def test_the_tag_names_the_assets_content() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", assets_tag())


def test_the_swagger_ui_oauth2_redirect_page_is_served(client: TestClient) -> None:
    answer = client.get("/docs/oauth2-redirect")

    assert answer.status_code == 200
    assert "window.opener.swaggerUIRedirectOauth2" in answer.text
    assert not re.search(r"<script[^>]+src=", answer.text)


def test_a_page_takes_no_body_or_other_method(client: TestClient) -> None:
    answer = client.post("/docs", json={"a": 1})

    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    assert client.head("/redoc").status_code == 200


def test_the_pages_and_assets_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert "/v1/verify" in paths
    assert [path for path in paths if path.startswith(("/docs", "/redoc"))] == []
