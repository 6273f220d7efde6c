"""The ledger in standard vocabularies: a dataset's provenance as W3C PROV, the catalogue as
DCAT-AP (the documents are built by :mod:`ledger.service.provenance` and
:mod:`ledger.service.catalog`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.deps import AskerDep
from api.errors import PROBLEM_JSON
from api.negotiation import negotiate
from api.routes.common import path_id
from api.schemas import DatasetIdPath, VersionQuery
from ledger.service import provenance
from ledger.service.provenance import ProvFormat

router = APIRouter(tags=["read"])

#: What the provenance answers in, by media type, in the order a ``*/*`` is given them.
PROV_MEDIA_TYPES: dict[str, ProvFormat] = {
    "application/json": ProvFormat.JSON,
    "application/prov+json": ProvFormat.JSON,
    "text/provenance-notation": ProvFormat.PROVN,
    "text/turtle": ProvFormat.TURTLE,
}

_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_JSON_DOCUMENT = {"schema": {"type": "object"}}
_TEXT_DOCUMENT = {"schema": {"type": "string"}}


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
    ask: AskerDep,
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
