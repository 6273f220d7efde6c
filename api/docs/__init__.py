"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served from
copies of their assets in this package: a browser that opens them asks no host but this one.

FastAPI's own pages load Swagger UI and ReDoc from a public CDN, fonts from Google and a favicon
from fastapi.tiangolo.com; on a network without internet they stay blank. Here the scripts,
styles and favicon come from ``static/`` (copied from the pinned npm packages by
:mod:`api.docs.assets`), under a path that names their content, so browsers keep them for a year
and fetch them again only after an upgrade. The pages also tell the browser (Content Security
Policy) to load nothing from elsewhere, should a future bundle try.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from api.docs.assets import STATIC_DIR

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
#: Followed by the assets' tag (:func:`assets_tag`) and a file name.
ASSETS_PATH = "/docs/assets"

#: Everything from this service; inline scripts and styles (FastAPI's page scripts, the
#: bundles' styles), images inline (icons in the CSS), ReDoc's search in a blob: worker.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)

#: The assets' URLs change with their content, so a browser may keep them as long as it likes.
IMMUTABLE = "public, max-age=31536000, immutable"


@functools.cache
def content_tag(directory: Path) -> str:
    """A short digest of every file in ``directory``: part of their URL, so that a change of
    any of them changes it (the auditor's page uses it too, for its bundle)."""
    digest = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def assets_tag() -> str:
    """A short digest of every asset: part of their URL, so an upgrade changes it."""
    return content_tag(STATIC_DIR)


class ImmutableFiles(StaticFiles):
    """The assets, with a cache lifetime (their URL changes when they do)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = IMMUTABLE
        return response


def _serving(page: Callable[[str], HTMLResponse]) -> Callable[[Request], Awaitable[Response]]:
    """The handler of a page made by ``page(root)``, ``root`` being the path the service is
    mounted at (as FastAPI's own pages do), with the pages' headers."""

    async def serve(request: Request) -> Response:
        html = page(request.scope.get("root_path", "").rstrip("/"))
        html.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        html.headers["Cache-Control"] = "no-cache"  # it names the assets' tag: the current one
        return html

    return serve


def install(app: FastAPI) -> None:
    """Add the pages and their assets to ``app``, which was made with ``docs_url=None`` and
    ``redoc_url=None``; none of them is in the OpenAPI document."""
    if app.openapi_url is None:
        raise ValueError("the documentation pages show the OpenAPI document: keep openapi_url")
    openapi_url = app.openapi_url
    assets = f"{ASSETS_PATH}/{assets_tag()}"

    def swagger_ui(root: str) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets}/favicon-32x32.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_PATH,
            # Swagger UI's standalone layout shows a badge from validator.swagger.io, sending it
            # the document's URL; FastAPI's layout does not, and it stays off should that change.
            swagger_ui_parameters={"validatorUrl": None},
        )

    def redoc(root: str) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{assets}/favicon-32x32.png",
            with_google_fonts=False,
        )

    app.add_route(DOCS_PATH, _serving(swagger_ui), include_in_schema=False)
    app.add_route(
        OAUTH2_REDIRECT_PATH,
        _serving(lambda root: get_swagger_ui_oauth2_redirect_html()),
        include_in_schema=False,
    )
    app.add_route(REDOC_PATH, _serving(redoc), include_in_schema=False)
    app.mount(assets, ImmutableFiles(directory=os.fspath(STATIC_DIR)), name="docs-assets")
