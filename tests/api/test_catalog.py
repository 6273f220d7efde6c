"""The DCAT-AP catalogue: what a JSON-LD processor (rdflib) reads from it, page by page."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

from ledger.runtime import Runtime
from ledger.service.vocabulary import NAMESPACE

SPDX = Namespace("http://spdx.org/rdf/terms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
ACCESS_RIGHT = Namespace("http://publications.europa.eu/resource/authority/access-right/")
CLASSIFICATIONS = ("public", "internal", "restricted", "confidential")


@pytest.fixture
def state(
    client: TestClient,
    enrol: Callable[[dict[int, str]], dict[str, dict[str, str]]],
    runtime: Runtime,
    relay: Callable[[], None],
) -> dict[str, Any]:
    """Health (71) registers one dataset of each classification, oldest first, and a batched
    confidential one; Transport (72) owns nothing."""
    headers = enrol({71: "Health", 72: "Transport"})
    datasets = {}
    for classification in CLASSIFICATIONS:
        content_hash = "0x" + os.urandom(32).hex()
        response = client.post(
            "/v1/datasets",
            json={"content_hash": content_hash, "classification": classification,
                  "metadata": {"title": f"{classification} data", "description": "counts",
                               "tags": ["health"]}},
            headers=headers["Health"],
        )  # fmt: skip
        assert response.status_code == 202, response.text
        relay()
        datasets[classification] = (response.json()["resource"]["dataset_id"], content_hash)
    batched = client.post(
        "/v1/datasets/batch",
        json={"records": [{"content_hash": "0x" + os.urandom(32).hex(),
                           "classification": "confidential", "metadata": {"title": "batched"}}]},
        headers=headers["Health"],
    )  # fmt: skip
    assert batched.status_code == 202, batched.text
    runtime.batcher.tick(force=True)
    relay()
    runtime.batcher.tick()
    runtime.indexer.sync()
    return {
        "headers": headers,
        "datasets": datasets,
        "batched": batched.json()["records"][0]["dataset_id"],
    }


def _catalog(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    response = client.get("/v1/catalog", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ld+json"
    return response


def _graph(text: str) -> Graph:
    return Graph().parse(data=text, format="json-ld")


def _dataset(dataset_id: str) -> URIRef:
    return URIRef(f"{NAMESPACE}dataset/{dataset_id}")


def test_each_dataset_has_its_publisher_access_rights_and_a_sha256_per_distribution(
    client: TestClient, state: dict[str, Any]
) -> None:
    graph = _graph(_catalog(client, state["headers"]["Health"]).text)
    (catalog,) = graph.subjects(RDF.type, DCAT.Catalog)
    expected_rights = {
        "public": ACCESS_RIGHT.PUBLIC,
        "internal": ACCESS_RIGHT.RESTRICTED,
        "restricted": ACCESS_RIGHT.NON_PUBLIC,
        "confidential": ACCESS_RIGHT.NON_PUBLIC,
    }
    for classification, (dataset_id, content_hash) in state["datasets"].items():
        dataset = _dataset(dataset_id)
        assert (catalog, DCAT.dataset, dataset) in graph
        assert (dataset, RDF.type, DCAT.Dataset) in graph
        assert graph.value(dataset, DCTERMS.identifier) == Literal(dataset_id)
        assert graph.value(dataset, DCTERMS.title) == Literal(f"{classification} data")
        assert graph.value(dataset, DCTERMS.accessRights) == expected_rights[classification]
        assert graph.value(dataset, DCTERMS.issued).datatype == XSD.dateTime
        publisher = graph.value(dataset, DCTERMS.publisher)
        assert publisher == URIRef(f"{NAMESPACE}department/71")
        assert (publisher, RDF.type, FOAF.Organization) in graph
        assert graph.value(publisher, FOAF.name) == Literal("Health")
        answer = graph.query(
            """SELECT ?distribution ?value WHERE {
                   ?dataset dcat:distribution ?distribution .
                   ?distribution a dcat:Distribution ; spdx:checksum ?checksum .
                   ?checksum a spdx:Checksum ;
                       spdx:algorithm spdx:checksumAlgorithm_sha256 ;
                       spdx:checksumValue ?value .
               }""",
            initNs={"dcat": DCAT, "spdx": SPDX},
            initBindings={"dataset": dataset},
        )
        assert [(str(row[0]), str(row[1])) for row in answer] == [  # type: ignore[index]
            (f"{NAMESPACE}dataset/{dataset_id}/v/1", content_hash.removeprefix("0x"))
        ]


def test_pages_follow_the_dataset_listing_and_link_the_next_page(
    client: TestClient, state: dict[str, Any]
) -> None:
    headers = state["headers"]["Health"]
    listed = [
        d["dataset_id"]
        for d in client.get("/v1/datasets", params={"limit": 500}, headers=headers).json()["items"]
    ]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(10):
        answer = _catalog(client, headers, **params)
        page = answer.json()
        seen += [d["dct:identifier"] for d in page["dcat:dataset"]]
        graph = _graph(answer.text)
        following = list(graph.objects(predicate=HYDRA.next))
        if page["next_cursor"] is None:
            assert following == [] and "link" not in answer.headers
            break
        (following,) = following
        assert (
            str(following) == f"http://testserver/v1/catalog?cursor={page['next_cursor']}&limit=2"
        )
        assert answer.headers["link"] == f'<{following}>; rel="next"'
        params = {"limit": 2, "cursor": page["next_cursor"]}
    assert seen == listed and len(seen) == 5
    assert client.get("/v1/catalog", params={"limit": 101}, headers=headers).status_code == 422
    assert client.get("/v1/catalog", params={"cursor": "!"}, headers=headers).status_code == 422
    assert client.get("/v1/catalog").status_code == 401


def test_a_department_sees_only_what_it_may(client: TestClient, state: dict[str, Any]) -> None:
    graph = _graph(_catalog(client, state["headers"]["Transport"]).text)
    listed = {str(d) for d in graph.subjects(RDF.type, DCAT.Dataset)}
    assert listed == {str(_dataset(d)) for d, _ in state["datasets"].values()}
    assert str(_dataset(state["batched"])) not in listed  # a batched dataset: need to know
    titles = {
        classification: graph.value(_dataset(dataset_id), DCTERMS.title)
        for classification, (dataset_id, _) in state["datasets"].items()
    }
    # Metadata of restricted and confidential datasets is need-to-know; the chain facts are not.
    assert titles == {
        "public": Literal("public data"),
        "internal": Literal("internal data"),
        "restricted": None,
        "confidential": None,
    }
    restricted = _dataset(state["datasets"]["restricted"][0])
    assert graph.value(restricted, DCTERMS.description) is None
    assert graph.value(restricted, DCAT.distribution) is not None
    everything = _graph(_catalog(client, state["headers"]["Health"]).text)
    assert (_dataset(state["batched"]), RDF.type, DCAT.Dataset) in everything


def test_the_context_is_written_out_so_no_processor_fetches_one(
    client: TestClient, state: dict[str, Any]
) -> None:
    context = _catalog(client, state["headers"]["Health"]).json()["@context"]
    assert isinstance(context, dict) and "@import" not in context
    assert {prefix: context[prefix] for prefix in ("dcat", "dct", "foaf", "spdx")} == {
        "dcat": str(DCAT),
        "dct": str(DCTERMS),
        "foaf": str(FOAF),
        "spdx": str(SPDX),
    }
