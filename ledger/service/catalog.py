"""The datasets as a DCAT-AP catalogue in JSON-LD, one page at a time.

Each dataset the principal may see is a ``dcat:Dataset``: its id (``dct:identifier``), its
owning department as ``dct:publisher`` (a ``foaf:Organization``), its first and last chain
events' block times as ``dct:issued`` and ``dct:modified``, its classification as
``dct:accessRights`` (the EU access-right vocabulary, :data:`ACCESS_RIGHTS`), and a
``dcat:Distribution`` per version with the SHA-256 of its bytes as an ``spdx:checksum``. Title,
description, keywords and licence come from the metadata document when the principal may read
it (:mod:`ledger.service.visibility`), and are left out otherwise.

The IRIs are :mod:`ledger.service.vocabulary`'s, the same as the PROV export's. The
``@context`` is written out in the answer (prefixes only, no remote context to fetch), and the
values carry their own types, so a JSON-LD processor needs nothing but this document.

Pages follow ``/v1/datasets`` (:func:`ledger.service.reads.visible_datasets`): newest first,
keyset cursors; ``next_cursor`` names the next page, and ``hydra:view`` links it as Hydra
clients expect (``hydra:next``). A dataset shows its latest :data:`DISTRIBUTIONS_PER_DATASET`
versions (all it has, almost always); ``pl:versionCount`` says how many there are, and
``/v1/datasets/{id}`` lists every one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlmodel import Session, col, select

from ledger.index.models import IndexDataset, IndexDepartment, IndexVersion
from ledger.runtime import Runtime
from ledger.service.documents import MetadataDocument
from ledger.service.principal import Principal
from ledger.service.reads import DatasetListing, Reader, visible_datasets
from ledger.service.vocabulary import (
    NAMESPACE,
    PREFIX,
    dataset_name,
    department_name,
    iri,
    version_name,
)

#: The most distributions (versions, latest first) one dataset shows in the catalogue.
DISTRIBUTIONS_PER_DATASET = 100

#: Prefixes only: every value says its own type, so no term needs a definition.
CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "spdx": "http://spdx.org/rdf/terms#",
    "adms": "http://www.w3.org/ns/adms#",
    "hydra": "http://www.w3.org/ns/hydra/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    PREFIX: NAMESPACE,
    # The page's own fields, named as in every other listing of the API.
    "next_cursor": f"{PREFIX}:nextCursor",
    "indexed_block": f"{PREFIX}:indexedBlock",
}

_ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
#: Classification -> the EU access-right vocabulary that DCAT-AP prescribes for
#: ``dct:accessRights``. ``public``: anyone may have it (PUBLIC). ``internal``: every department
#: of the consortium reads it without asking, nobody outside does: open on a condition (being
#: a registered department), which is RESTRICTED. ``restricted`` and ``confidential``: only the
#: owner and the departments it grants access to, case by case: NON_PUBLIC.
ACCESS_RIGHTS: dict[str, str] = {
    "public": _ACCESS_RIGHT + "PUBLIC",
    "internal": _ACCESS_RIGHT + "RESTRICTED",
    "restricted": _ACCESS_RIGHT + "NON_PUBLIC",
    "confidential": _ACCESS_RIGHT + "NON_PUBLIC",
}

_DISTRIBUTION_STATUS = "http://publications.europa.eu/resource/authority/distribution-status/"


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    base_url: str  # where the API is served, for the links (no trailing slash)
    cursor: str | None = None
    limit: int = 20


def get_catalog(
    session: Session, runtime: Runtime, principal: Principal, query: CatalogQuery
) -> dict[str, Any]:
    """One page of the catalogue of the datasets visible to ``principal``, newest first."""
    reader = Reader(session, runtime, principal)
    rows, next_cursor = visible_datasets(reader, DatasetListing(None, query.cursor, query.limit))
    owners = {row.owner for row in rows}
    departments = {
        d.department_id: d
        for d in session.exec(
            select(IndexDepartment).where(col(IndexDepartment.department_id).in_(owners))
        ).all()
    }
    catalog_url = f"{query.base_url}/v1/catalog"
    view: dict[str, Any] = {
        "@id": _page_url(catalog_url, query.cursor, query.limit),
        "@type": "hydra:PartialCollectionView",
    }
    if next_cursor is not None:
        view["hydra:next"] = {"@id": _page_url(catalog_url, next_cursor, query.limit)}
    return {
        "@context": CONTEXT,
        "@id": catalog_url,
        "@type": "dcat:Catalog",
        "dct:title": "provledger",
        "dct:description": "Datasets registered on the provledger chain by government "
        "departments, with the SHA-256 of every version.",
        "dcat:dataset": [
            _dataset(reader, row, departments.get(row.owner), query.base_url) for row in rows
        ],
        "hydra:view": view,
        "next_cursor": next_cursor,
        "indexed_block": runtime.indexer.last_indexed_block(),
    }


def _page_url(catalog_url: str, cursor: str | None, limit: int) -> str:
    params = {"cursor": cursor, "limit": limit} if cursor else {"limit": limit}
    return f"{catalog_url}?{urlencode(params)}"


def _date_time(seconds: int) -> dict[str, str]:
    return {
        "@value": datetime.fromtimestamp(seconds, UTC).isoformat(),
        "@type": "xsd:dateTime",
    }


def _dataset(
    reader: Reader, row: IndexDataset, department: IndexDepartment | None, base_url: str
) -> dict[str, Any]:
    publisher: dict[str, Any] = {
        "@id": iri(department_name(row.owner)),
        "@type": "foaf:Organization",
    }
    if department is not None:
        publisher["foaf:name"] = department.name
    node: dict[str, Any] = {
        "@id": iri(dataset_name(row.dataset_id)),
        "@type": "dcat:Dataset",
        "dct:identifier": row.dataset_id,
        "dct:publisher": publisher,
        "dct:issued": _date_time(row.created_at),
        "dct:modified": _date_time(row.updated_at),
        "dct:accessRights": {"@id": ACCESS_RIGHTS[row.classification]},
        "dcat:landingPage": {"@id": f"{base_url}/v1/datasets/{row.dataset_id}"},
        f"{PREFIX}:versionCount": row.version_count,
    }
    if reader.content(row):
        node |= _described(reader.session, row.metadata_hash)
    status = _DISTRIBUTION_STATUS + ("WITHDRAWN" if row.status == "withdrawn" else "COMPLETED")
    node["dcat:distribution"] = [
        _distribution(version, status, base_url) for version in _latest_versions(reader, row)
    ]
    return node


def _described(session: Session, metadata_hash: str) -> dict[str, Any]:
    """What the dataset's metadata document says, in DCAT's terms."""
    document = session.get(MetadataDocument, metadata_hash)
    if document is None:
        return {}
    metadata = json.loads(document.canonical_json)
    described: dict[str, Any] = {}
    if metadata.get("title"):
        described["dct:title"] = metadata["title"]
    if metadata.get("description"):
        described["dct:description"] = metadata["description"]
    if metadata.get("tags"):
        described["dcat:keyword"] = list(metadata["tags"])
    if metadata.get("licence"):
        described["dct:license"] = {
            "@type": "dct:LicenseDocument",
            "dct:title": metadata["licence"],
        }
    return described


def _latest_versions(reader: Reader, row: IndexDataset) -> list[IndexVersion]:
    return list(
        reader.session.exec(
            select(IndexVersion)
            .where(
                IndexVersion.dataset_id == row.dataset_id,
                col(IndexVersion.version) > row.version_count - DISTRIBUTIONS_PER_DATASET,
            )
            .order_by(col(IndexVersion.version).desc())
        ).all()
    )


def _distribution(version: IndexVersion, status: str, base_url: str) -> dict[str, Any]:
    return {
        "@id": iri(version_name(version.dataset_id, version.version)),
        "@type": "dcat:Distribution",
        "dct:identifier": version_name(version.dataset_id, version.version),
        "dct:title": f"version {version.version}",
        "dct:issued": _date_time(version.created_at),
        "dcat:accessURL": {
            "@id": f"{base_url}/v1/datasets/{version.dataset_id}/versions/{version.version}"
        },
        "spdx:checksum": {
            "@type": "spdx:Checksum",
            "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
            # SPDX writes the digest as bare lower-case hex.
            "spdx:checksumValue": {
                "@value": version.content_hash.removeprefix("0x"),
                "@type": "xsd:hexBinary",
            },
        },
        "adms:status": {"@id": status},
    }
