"""The auditor's page (``/``) as HTTP answers: its HTML in the language asked for, naming only
the service's own assets under a digest of their content, with a strict Content Security
Policy; the assets cached for a year; nothing of it in the OpenAPI document. (What a browser
makes of it: ``tests/api/browser/test_auditor_page.py``.)"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.auditor import (
    ASSETS_PATH,
    CONTENT_SECURITY_POLICY,
    IMMUTABLE,
    assets_tag,
    choose_language,
    render_page,
)

_LINKS = re.compile(r"""(?:src|href)="([^"]*)\"""")


def test_the_page_names_only_the_services_assets(client: TestClient) -> None:
    answer = client.get("/")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["vary"] == "Accept-Language"
    base = f"{ASSETS_PATH}/{assets_tag()}"
    links = [link for link in _LINKS.findall(answer.text) if not link.startswith("data:")]
    assert sorted(links) == sorted(
        [
            f"{base}/auditor.css",
            f"{base}/auditor.js",
            f"{base}/THIRD-PARTY-LICENSES.txt",
            "#main",
            "/docs",
        ]
    )
    # No inline script: the policy would refuse it.
    assert re.findall(r"<script[^>]*>", answer.text) == [
        f'<script type="module" src="{base}/auditor.js">'
    ]


def test_the_policy_lets_the_page_load_and_ask_nothing_but_the_service(
    client: TestClient,
) -> None:
    policy = client.get("/").headers["content-security-policy"]

    assert policy == CONTENT_SECURITY_POLICY
    directives = dict(item.split(" ", 1) for item in policy.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    # hash-wasm compiles its WebAssembly; no JavaScript eval, no inline script.
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert "unsafe-inline" not in policy


@pytest.mark.parametrize(
    ("accept_language", "language", "heading"),
    [
        (None, "en", "Check a dataset against the ledger"),
        ("en-GB,en;q=0.9", "en", "Check a dataset against the ledger"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN", "对照账本核验数据集"),
        ("fr-FR, zh;q=0.5, en;q=0.4", "zh-CN", "对照账本核验数据集"),
        ("zh;q=0.2, en-US;q=0.8", "en", "Check a dataset against the ledger"),
    ],
)
def test_the_page_is_in_the_language_the_browser_asks_for(
    client: TestClient, accept_language: str | None, language: str, heading: str
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    answer = client.get("/", headers=headers)

    assert f'<html lang="{language}"' in answer.text
    assert f'<h1 data-i18n="page.heading">{heading}</h1>' in answer.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "en"),
        ("*", "en"),
        ("de, fr;q=0.9", "en"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("zh;q=0, en", "en"),
        ("ZH-cn;q=1.0", "zh-CN"),
        ("en;q=abc, zh", "zh-CN"),
        ("en;q=0.1, zh-SG;q=0.2", "zh-CN"),
        (",,;;q=", "en"),
    ],
)
def test_a_language_is_chosen_by_preference(header: str, expected: str) -> None:
    assert choose_language(header) == expected


def test_every_text_of_the_page_is_translated() -> None:
    english, chinese = render_page("en"), render_page("zh-CN")

    assert "{{" not in english and "{{" not in chinese
    assert "Check a file or a folder" in english
    assert "核验文件或文件夹" in chinese


def test_the_page_under_a_root_path_names_its_assets_there() -> None:
    html = render_page("en", root="/ledger")

    assert 'data-base="/ledger/"' in html
    assert f'src="/ledger{ASSETS_PATH}/{assets_tag()}/auditor.js"' in html


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("auditor.js", "text/javascript; charset=utf-8"),
        ("auditor.css", "text/css; charset=utf-8"),
        ("THIRD-PARTY-LICENSES.txt", "text/plain; charset=utf-8"),
    ],
)
def test_an_asset_is_served_with_its_type_for_a_year(
    client: TestClient, name: str, content_type: str
) -> None:
    answer = client.get(f"{ASSETS_PATH}/{assets_tag()}/{name}")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == content_type
    assert answer.headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize(
    "path",
    [f"{ASSETS_PATH}/0123456789abcdef/auditor.js", f"{ASSETS_PATH}/{{tag}}/missing.js"],
)
def test_an_asset_of_an_older_build_or_none_is_a_problem_404(client: TestClient, path: str) -> None:
    answer = client.get(path.format(tag=assets_tag()))

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_page_needs_no_token_and_takes_no_body(client: TestClient) -> None:
    assert client.head("/").status_code == 200
    answer = client.post("/", json={"a": 1})
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_page_and_its_assets_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert "/" not in paths
    assert [path for path in paths if path.startswith("/auditor")] == []
