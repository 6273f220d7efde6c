"""The auditor's page at ``/``: drop a file or a folder, see its verdict, check it against the
chain in the browser, download or check a proof bundle, see who has access to a dataset.

The page is static: its script and style are built from ``web/auditor/`` by esbuild into
``static/`` (:mod:`api.auditor.build`, ``make auditor-page``), committed and shipped in the
wheel, and served under a path that names their content (``/auditor/assets/<tag>/``) for a year.
The HTML itself is rendered here from ``page/index.html`` in the language the browser asks for
(``Accept-Language``: English or Simplified Chinese; the page's switch changes it after), with
a Content Security Policy that lets it load and ask nothing but this service: files are hashed
in the browser and never sent, the chain is read at ``/rpc``.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, Response

from api.docs import IMMUTABLE, ImmutableFiles, content_tag

PAGE_PATH = "/"
#: Followed by the assets' tag (:func:`assets_tag`) and a file name.
ASSETS_PATH = "/auditor/assets"

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_DIR = Path(__file__).resolve().parent / "page"
TEMPLATE = "index.html"
MESSAGES = "messages.json"

#: The page's languages, the first the default.
LANGUAGES = ("en", "zh-CN")

#: Only this service: its scripts (hash-wasm compiles its WebAssembly, hence
#: 'wasm-unsafe-eval', which allows no JavaScript eval), its styles, its answers and /rpc.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)

__all__ = [
    "ASSETS_PATH",
    "CONTENT_SECURITY_POLICY",
    "IMMUTABLE",
    "LANGUAGES",
    "PAGE_PATH",
    "assets_tag",
    "choose_language",
    "install",
    "render_page",
]

_LANGUAGE_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([^;,\s]*))?"
)
_PLACEHOLDER = re.compile(r"\{\{(?:t:)?([A-Za-z0-9_.-]+)\}\}")


def assets_tag() -> str:
    """A short digest of the built assets: part of their URL, so a rebuild changes it."""
    return content_tag(STATIC_DIR)


def choose_language(accept_language: str | None) -> str:
    """The page's language for an ``Accept-Language`` header: the most preferred range that
    is Chinese (any ``zh``: the page is in Simplified Chinese) or English; else English."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        match = _LANGUAGE_RANGE.match(item)
        if match is None:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) is not None else 1.0
        except ValueError:
            continue  # a malformed weight: the range is left out, not taken as preferred
        if 0 < quality <= 1:
            ranked.append((-quality, position, match.group(1).lower()))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if primary == "zh":
            return "zh-CN"
        if primary in ("en", "*"):
            return "en"
    return LANGUAGES[0]


@functools.cache
def _messages() -> dict[str, dict[str, str]]:
    messages: dict[str, dict[str, str]] = json.loads((PAGE_DIR / MESSAGES).read_text("utf-8"))
    return messages


@functools.cache
def _template() -> str:
    return (PAGE_DIR / TEMPLATE).read_text("utf-8")


def render_page(language: str, *, root: str = "") -> str:
    """The page's HTML in ``language``, its assets named under ``root`` (the path the service
    is mounted at)."""
    catalogue = _messages()[language]
    values = {
        "lang": language,
        "base": root + "/",
        "assets": f"{root}{ASSETS_PATH}/{assets_tag()}",
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        text = catalogue[name] if match.group(0).startswith("{{t:") else values[name]
        return html.escape(text, quote=True)

    return _PLACEHOLDER.sub(fill, _template())


async def _page(request: Request) -> Response:
    language = choose_language(request.headers.get("accept-language"))
    root = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(
        render_page(language, root=root),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            # It names the assets' current tag, and its language follows the request's.
            "Cache-Control": "no-cache",
            "Vary": "Accept-Language",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def install(app: FastAPI) -> None:
    """Add the page and its assets to ``app``; neither is in the OpenAPI document."""
    app.add_route(PAGE_PATH, _page, include_in_schema=False)
    app.mount(
        f"{ASSETS_PATH}/{assets_tag()}",
        ImmutableFiles(directory=os.fspath(STATIC_DIR)),
        name="auditor-assets",
    )
