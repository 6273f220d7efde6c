"""A dataset's provenance as W3C PROV: what PROV tools read back from each format."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prov.model import (
    ProvAgent,
    ProvAssociation,
    ProvAttribution,
    ProvDerivation,
    ProvDocument,
    ProvEntity,
    ProvGeneration,
    ProvInvalidation,
)

from ledger.runtime import Runtime
from ledger.service import provenance
from ledger.service.vocabulary import NAMESPACE

PL = NAMESPACE


def _hash() -> str:
    return "0x" + os.urandom(32).hex()


@pytest.fixture
def state(
    client: TestClient,
    enrol: Callable[[dict[int, str]], dict[str, dict[str, str]]],
    governance: dict[str, str],
    runtime: Runtime,
    relay: Callable[[], None],
) -> dict[str, Any]:
    """Health (61) registers a public source with two versions; Transport (62) registers an
    internal dataset derived from the source's second version; Police (63) owns nothing."""
    headers = enrol({61: "Health", 62: "Transport", 63: "Police"})

    def register(who: str, classification: str, parents: list[dict[str, Any]]) -> str:
        response = client.post(
            "/v1/datasets",
            json={"content_hash": _hash(), "classification": classification,
                  "metadata": {"title": f"{who} data"}, "parents": parents},
            headers=headers[who],
        )  # fmt: skip
        assert response.status_code == 202, response.text
        relay()
        return str(response.json()["resource"]["dataset_id"])

    source = register("Health", "public", [])
    added = client.post(
        f"/v1/datasets/{source}/versions",
        json={"content_hash": _hash(), "metadata": {"note": "fixed"}, "parents": []},
        headers=headers["Health"],
    )
    assert added.status_code == 202, added.text
    relay()
    derived = register("Transport", "internal", [{"dataset_id": source, "version": 2}])
    runtime.indexer.sync()
    auditor = client.post("/v1/auditors", json={}, headers=governance).json()
    headers["auditor"] = {"Authorization": f"Bearer {auditor['token']}"}
    return {"headers": headers, "source": source, "derived": derived}


def _provenance(client: TestClient, dataset_id: str, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(f"/v1/datasets/{dataset_id}/provenance", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


def _records(document: ProvDocument, kind: type) -> list[Any]:
    return [r for r in document.get_records() if isinstance(r, kind)]


def _entity(document: ProvDocument, dataset_id: str, version: int | None = None) -> ProvEntity:
    local = f"dataset/{dataset_id}" + (f"/v/{version}" if version else "")
    (found,) = document.get_record(document.valid_qualified_name(f"pl:{local}"))
    assert isinstance(found, ProvEntity)
    return found


def _attribute(record: Any, name: str) -> Any:
    values = [v for k, v in record.attributes if k.uri == PL + name]
    assert len(values) == 1, (name, values)
    value = values[0]
    return getattr(value, "value", value)  # a prov Literal, or a plain value


def _uris(record: Any, role: str) -> list[str]:
    return [str(v.uri) for k, v in record.attributes if k.localpart == role]


def test_versions_are_entities_with_their_hashes_generated_by_their_registrations(
    client: TestClient, state: dict[str, Any], runtime: Runtime
) -> None:
    headers, source, derived = state["headers"], state["source"], state["derived"]
    answer = _provenance(client, derived, headers["Police"])
    assert answer.headers["content-type"].startswith("application/json")
    document = ProvDocument.deserialize(content=answer.text, format="json")
    for dataset_id, version in ((derived, 1), (source, 2)):
        view = client.get(
            f"/v1/datasets/{dataset_id}/versions/{version}", headers=headers["Police"]
        ).json()
        entity = _entity(document, dataset_id, version)
        assert _attribute(entity, "contentHash") == view["content_hash"]
        assert _attribute(entity, "metadataHash") == view["metadata_hash"]
        (generation,) = [
            g
            for g in _records(document, ProvGeneration)
            if _uris(g, "entity") == [PL + f"dataset/{dataset_id}/v/{version}"]
        ]
        chain = view["chain"]
        assert _attribute(generation, "logIndex") == chain["log_index"]
        assert generation.get_attribute("prov:time") == {
            datetime.fromtimestamp(chain["block_time"], UTC)
        }
        (activity,) = document.get_record(_uris(generation, "activity")[0])
        assert str(activity.identifier.uri) == PL + f"tx/{chain['tx_hash']}"
        assert _attribute(activity, "txHash") == chain["tx_hash"]
        assert _attribute(activity, "blockNumber") == chain["block_number"]
        assert _attribute(activity, "blockHash") == chain["block_hash"]
        assert _attribute(activity, "chainId") == runtime.chain.chain_id
        assert _attribute(activity, "contract") == runtime.ledger.datasets.address
        assert activity.get_startTime() == datetime.fromtimestamp(chain["block_time"], UTC)
    # The source's first version is no ancestor of the derived dataset: not in its provenance.
    assert f"{source}/v/1" not in answer.text


def test_departments_are_agents_and_derivation_crosses_them(
    client: TestClient, state: dict[str, Any]
) -> None:
    source, derived = state["source"], state["derived"]
    document = ProvDocument.deserialize(
        content=_provenance(client, derived, state["headers"]["auditor"]).text, format="json"
    )
    agents = {str(a.identifier.uri): a for a in _records(document, ProvAgent)}
    assert set(agents) == {PL + "department/61", PL + "department/62"}
    assert agents[PL + "department/61"].get_attribute("prov:label") == {"Health"}
    attributed = {
        (_uris(r, "entity")[0], _uris(r, "agent")[0]) for r in _records(document, ProvAttribution)
    }
    assert (PL + f"dataset/{derived}/v/1", PL + "department/62") in attributed
    assert (PL + f"dataset/{source}/v/2", PL + "department/61") in attributed
    associated = {_uris(r, "agent")[0] for r in _records(document, ProvAssociation)}
    assert associated == {PL + "department/61", PL + "department/62"}
    derivations = {
        (_uris(r, "generatedEntity")[0], _uris(r, "usedEntity")[0])
        for r in _records(document, ProvDerivation)
    }
    assert derivations == {(PL + f"dataset/{derived}/v/1", PL + f"dataset/{source}/v/2")}


def test_consecutive_versions_of_a_dataset_are_revisions(
    client: TestClient, state: dict[str, Any]
) -> None:
    source = state["source"]
    document = ProvDocument.deserialize(
        content=_provenance(client, source, state["headers"]["Health"]).text, format="json"
    )
    (revision,) = _records(document, ProvDerivation)
    assert (_uris(revision, "generatedEntity"), _uris(revision, "usedEntity")) == (
        [PL + f"dataset/{source}/v/2"],
        [PL + f"dataset/{source}/v/1"],
    )
    assert revision.get_attribute("prov:type") == {document.valid_qualified_name("prov:Revision")}
    assert _entity(document, source, 2) and _entity(document, source, 1)
    one = ProvDocument.deserialize(
        content=_provenance(client, source, state["headers"]["Health"], version=1).text,
        format="json",
    )
    assert [str(e.identifier.uri) for e in _records(one, ProvEntity)] == [
        PL + f"dataset/{source}",
        PL + f"dataset/{source}/v/1",
    ]


def test_every_format_is_the_same_graph_and_prov_n_is_what_prov_writes(
    client: TestClient, state: dict[str, Any]
) -> None:
    headers, derived = state["headers"]["Transport"], state["derived"]
    as_json = _provenance(client, derived, headers).text
    by_accept = {
        media_type: client.get(
            f"/v1/datasets/{derived}/provenance", headers={**headers, "Accept": media_type}
        )
        for media_type in ("application/prov+json", "text/provenance-notation", "text/turtle")
    }
    for media_type, answer in by_accept.items():
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(media_type)
        assert answer.headers["vary"] == "Accept"
    by_format = {
        fmt: _provenance(client, derived, headers, format=fmt).text
        for fmt in ("prov-json", "prov-n", "turtle")
    }
    document = ProvDocument.deserialize(content=as_json, format="json")
    turtle = ProvDocument.deserialize(
        content=by_format["turtle"], format="rdf", rdf_format="turtle"
    )
    provn = by_format["prov-n"]
    assert turtle == document
    from_provn = ProvDocument.deserialize(content=provn, format="provn")
    assert from_provn == document
    assert provn == from_provn.serialize(format="provn")  # written by prov, statement for statement
    assert f"wasDerivedFrom(pl:dataset/{derived}/v/1, pl:dataset/{state['source']}/v/2" in provn
    assert "agent(pl:department/62, [" in provn
    assert by_accept["text/turtle"].text == by_format["turtle"]
    assert by_accept["text/provenance-notation"].text == provn


def test_a_batched_ancestor_the_token_may_not_see_is_left_out(
    client: TestClient, state: dict[str, Any], runtime: Runtime, relay: Callable[[], None]
) -> None:
    headers = state["headers"]

    def batch(record: dict[str, Any]) -> str:
        response = client.post("/v1/datasets/batch", json={"records": [record]},
                               headers=headers["Health"])  # fmt: skip
        assert response.status_code == 202, response.text
        runtime.batcher.tick(force=True)
        relay()
        runtime.batcher.tick()
        runtime.indexer.sync()
        return str(response.json()["records"][0]["dataset_id"])

    hidden = batch({"content_hash": _hash(), "classification": "confidential",
                    "metadata": {"title": "case files"}})  # fmt: skip
    shown = batch({"content_hash": _hash(), "classification": "internal",
                   "metadata": {"title": "statistics"},
                   "parents": [{"dataset_id": hidden, "version": 1}]})  # fmt: skip
    for fmt in ("prov-json", "prov-n", "turtle"):
        text = _provenance(client, shown, headers["Police"], format=fmt).text
        assert shown in text and hidden not in text
    as_auditor = ProvDocument.deserialize(
        content=_provenance(client, shown, headers["auditor"]).text, format="json"
    )
    entity = _entity(as_auditor, shown, 1)
    assert _attribute(entity, "anchorRoot").startswith("0x")
    assert _attribute(entity, "leafIndex") == 0
    assert _entity(as_auditor, hidden, 1)
    missing = client.get(f"/v1/datasets/{hidden}/provenance", headers=headers["Police"])
    assert missing.status_code == 404


def test_a_withdrawal_invalidates_the_dataset_and_its_versions(
    client: TestClient, state: dict[str, Any], relay: Callable[[], None], runtime: Runtime
) -> None:
    headers, source = state["headers"], state["source"]
    withdrawn = client.post(
        f"/v1/datasets/{source}/withdraw", json={"reason": "superseded"}, headers=headers["Health"]
    )
    assert withdrawn.status_code == 202, withdrawn.text
    relay()
    runtime.indexer.sync()
    updated = client.get(f"/v1/datasets/{source}", headers=headers["Health"]).json()["updated"]
    document = ProvDocument.deserialize(
        content=_provenance(client, source, headers["Health"]).text, format="json"
    )
    invalidations = _records(document, ProvInvalidation)
    assert {_uris(r, "entity")[0] for r in invalidations} == {
        PL + f"dataset/{source}",
        PL + f"dataset/{source}/v/1",
        PL + f"dataset/{source}/v/2",
    }
    assert {_uris(r, "activity")[0] for r in invalidations} == {PL + f"tx/{updated['tx_hash']}"}
    (activity,) = document.get_record(PL + f"tx/{updated['tx_hash']}")
    assert activity.get_attribute("prov:type") == {document.valid_qualified_name("pl:Withdrawal")}


def test_an_unknown_dataset_or_version_is_not_found_and_unknown_formats_are_refused(
    client: TestClient, state: dict[str, Any]
) -> None:
    headers, source = state["headers"]["Police"], state["source"]
    url = f"/v1/datasets/{source}/provenance"
    assert client.get(f"/v1/datasets/{_hash()}/provenance", headers=headers).status_code == 404
    assert client.get(url, params={"version": 3}, headers=headers).status_code == 404
    bad_format = client.get(url, params={"format": "prov-xml"}, headers=headers)
    assert bad_format.status_code == 422 and bad_format.json()["code"] == "invalid-request"
    assert client.get(url, params={"depth": 21}, headers=headers).status_code == 422
    refused = client.get(url, headers={**headers, "Accept": "application/xml, text/html"})
    assert refused.status_code == 406
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "not-acceptable"
    # An explicit format wins over the Accept header.
    chosen = client.get(url, params={"format": "turtle"}, headers={**headers, "Accept": "a/b"})
    assert chosen.status_code == 200 and chosen.headers["content-type"].startswith("text/turtle")


def test_a_document_beyond_the_bound_is_refused_with_how_to_ask_for_less(
    client: TestClient, state: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provenance, "MAX_VERSIONS", 1)
    headers, source, derived = state["headers"]["Health"], state["source"], state["derived"]
    refused = client.get(f"/v1/datasets/{source}/provenance", headers=headers)
    assert refused.status_code == 422 and refused.json()["code"] == "export-too-large"
    assert "one version or a smaller depth" in refused.json()["detail"]
    through_parents = client.get(f"/v1/datasets/{derived}/provenance", headers=headers)
    assert through_parents.status_code == 422
    assert _provenance(client, source, headers, version=2).status_code == 200
