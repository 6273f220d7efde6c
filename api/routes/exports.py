"""The ledger in standard vocabularies: a dataset's provenance as W3C PROV, the catalogue as
DCAT-AP (the documents are built by :mod:`ledger.service.provenance` and
:mod:`ledger.service.catalog`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import AskerDep, ReaderAskerDep
from api.errors import PROBLEM_JSON
from api.negotiation import negotiate
from api.pagination import DatasetsCursor
from api.routes.common import path_id
from api.schemas import DatasetIdPath, VersionQuery
from ledger.service import catalog, provenance
from ledger.service.provenance import ProvFormat

router = APIRouter(tags=["read"])

#: What the provenance answers in, by media type, in the order a ``*/*`` is given them.
PROV_MEDIA_TYPES: dict[str, ProvFormat] = {
    "application/json": ProvFormat.JSON,
    "application/prov+json": ProvFormat.JSON,
    "text/provenance-notation": ProvFormat.PROVN,
    "text/turtle": ProvFormat.TURTLE,
}
JSON_LD = "application/ld+json"

_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_JSON_DOCUMENT = {"schema": {"type": "object"}}
_TEXT_DOCUMENT = {"schema": {"type": "string"}}


class JsonLdResponse(JSONResponse):
    """A JSON-LD document: JSON, as ``application/ld+json``."""

    media_type = JSON_LD


@router.get(
    "/v1/datasets/{dataset_id}/provenance",
    summary="A dataset's provenance as W3C PROV (PROV-JSON, PROV-N or PROV-O Turtle)",
    response_class=Response,
    responses={
        200: {
            "description": "The PROV document",
            "content": {
                "application/json": _JSON_DOCUMENT,
                "application/prov+json": _JSON_DOCUMENT,
                "text/provenance-notation": _TEXT_DOCUMENT,
                "text/turtle": _TEXT_DOCUMENT,
            },
        },
        406: {
            "description": "The Accept header accepts none of these formats",
            "content": _PROBLEM,
        },
    },
)
def get_provenance(
    dataset_id: DatasetIdPath,
    request: Request,
    ask: ReaderAskerDep,
    version: VersionQuery = None,
    depth: Annotated[int, Query(ge=1, le=20)] = 5,
    fmt: Annotated[
        Literal["prov-json", "prov-n", "turtle"] | None,
        Query(alias="format", description="Overrides the Accept header"),
    ] = None,
) -> Response:
    """The dataset's versions (or one ``version``) and their ancestors up to ``depth``
    derivation steps, across departments: versions as entities, departments as agents, the
    transactions that registered them as activities, with content hashes and chain coordinates
    as attributes. The format is ``format``, else the ``Accept`` header's choice among
    ``application/json`` or ``application/prov+json`` (PROV-JSON, the default),
    ``text/provenance-notation`` (PROV-N) and ``text/turtle`` (PROV-O). A walk stops at datasets
    the token may not see: neither they nor what lies beyond them is in the document."""
    if fmt is not None:
        chosen = ProvFormat(fmt)
        media_type = chosen.media_type
    else:
        media_type = negotiate(request.headers.get("accept"), list(PROV_MEDIA_TYPES))
        chosen = PROV_MEDIA_TYPES[media_type]
    query = provenance.ProvenanceQuery(path_id(dataset_id), version, depth, chosen)
    document = ask(provenance.get_provenance, query)
    return Response(document, media_type=media_type, headers={"Vary": "Accept"})


@router.get(
    "/v1/catalog",
    summary="The datasets visible to this token as a DCAT-AP catalogue (JSON-LD), newest first",
    response_class=JsonLdResponse,
)
def get_catalog(
    request: Request,
    response: Response,
    ask: AskerDep,
    cursor: DatasetsCursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """One page of ``dcat:Dataset``s, each with its publisher (the owning department), access
    rights (from its classification) and a ``dcat:Distribution`` per version carrying the
    SHA-256 of its bytes as an ``spdx:checksum``. Paged like ``/v1/datasets``: ``next_cursor``
    (also linked as ``hydra:view`` / ``hydra:next``, and in a ``Link`` header) names the next
    page, absent on the last."""
    base_url = str(request.base_url).rstrip("/")
    page = ask(catalog.get_catalog, catalog.CatalogQuery(base_url, cursor, limit))
    following = page["hydra:view"].get("hydra:next")
    if following is not None:
        response.headers["Link"] = f'<{following["@id"]}>; rel="next"'
    return page
