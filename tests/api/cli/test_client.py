"""``ProvledgerClient`` against the live service: errors, retries, idempotency, waiting."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx2
import pytest
from cli_harness import Department, Service, eventually

from api.client import (
    ApiError,
    ClientError,
    OperationTimeoutError,
    ProvledgerClient,
    ServiceUnreachableError,
)
from ledger.chain.anvil import free_port


class Recording(httpx2.BaseTransport):
    """The real network, with every request kept; ``lose_answers`` drops that many answers to
    writes after the service has handled them, as a broken connection would."""

    def __init__(self, *, lose_answers: int = 0) -> None:
        self.inner = httpx2.HTTPTransport()
        self.requests: list[httpx2.Request] = []
        self.lose_answers = lose_answers

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        if request.method == "POST" and self.lose_answers > 0:
            self.lose_answers -= 1
            response.read()
            response.close()
            raise httpx2.ReadTimeout("the answer was lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def _client(service: Service, token: str | None, **kwargs: object) -> ProvledgerClient:
    return ProvledgerClient(service.url, token, backoff=0.01, **kwargs)  # type: ignore[arg-type]


def test_problem_documents_become_api_errors_with_status_code_and_detail(
    service: Service,
) -> None:
    missing = "0x" + "cd" * 32
    with _client(service, service.governance_token) as client, pytest.raises(ApiError) as caught:
        client.get_dataset(missing)
    assert (caught.value.status, caught.value.code) == (404, "not-found")
    assert caught.value.detail == f"no dataset {missing} visible to this token"
    assert caught.value.problem["type"] == "urn:provledger:problem:not-found"
    with _client(service, "plk_wrong") as client, pytest.raises(ApiError) as caught:
        client.list_datasets()
    assert (caught.value.status, caught.value.code) == (401, "unauthenticated")


def test_the_package_exports_exactly_its_public_names() -> None:
    import api.client

    assert sorted(api.client.__all__) == [
        "ApiError",
        "ClientError",
        "OperationTimeoutError",
        "Parent",
        "ProvledgerClient",
        "ServiceUnreachableError",
    ]
    assert all(hasattr(api.client, name) for name in api.client.__all__)


def test_an_error_page_that_is_not_a_problem_keeps_its_status() -> None:
    # A proxy in front of the service answers in its own format; the real service never does.
    page = httpx2.MockTransport(lambda _: httpx2.Response(502, text="<h1>Bad gateway</h1>"))
    client = ProvledgerClient("http://proxy.invalid", "t", transport=page)
    with client, pytest.raises(ApiError) as caught:
        client.list_datasets()
    assert (caught.value.status, caught.value.code) == (502, "http-502")
    assert caught.value.detail == "<h1>Bad gateway</h1>"


def test_an_unreachable_service_is_tried_again_then_reported() -> None:
    transport = Recording()
    url = f"http://127.0.0.1:{free_port()}"
    client = ProvledgerClient(url, "t", transport=transport, retries=2, backoff=0.01)
    with client, pytest.raises(ServiceUnreachableError) as caught:
        client.list_datasets()
    assert len(transport.requests) == 3
    assert isinstance(caught.value, ConnectionError) and isinstance(caught.value, ClientError)
    assert caught.value.code == "unreachable" and url in caught.value.detail


@pytest.mark.parametrize(
    ("status", "code"),
    [(409, "idempotency-key-in-use"), (503, "database-busy"), (503, "chain-unavailable")],
)
def test_an_answer_that_says_come_back_later_is_retried_with_the_same_key(
    status: int, code: str
) -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if len(seen) == 1:
            problem = {"code": code, "detail": "busy", "status": status}
            return httpx2.Response(status, json=problem, headers={"Retry-After": "0"})
        return httpx2.Response(200, json={"token_id": "tok_1", "revoked_at": None})

    client = ProvledgerClient("http://svc.invalid", "t", transport=httpx2.MockTransport(answer))
    with client:
        assert client.revoke_token("tok_1")["token_id"] == "tok_1"
    assert len(seen) == 2
    assert seen[0].headers["Idempotency-Key"] == seen[1].headers["Idempotency-Key"]


def test_a_refusal_is_not_retried() -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(409, json={"code": "idempotency-conflict", "detail": "no"})

    client = ProvledgerClient("http://svc.invalid", "t", transport=httpx2.MockTransport(answer))
    with client, pytest.raises(ApiError):
        client.revoke_token("tok_1")
    assert len(seen) == 1


def test_a_write_whose_answer_is_lost_is_retried_once_and_done_once(
    service: Service,
    enrol: Callable[[str], Department],
    outbox_size: Callable[[], int],
) -> None:
    health = enrol("Health")
    transport = Recording(lose_answers=1)
    before = outbox_size()
    with _client(service, health.token, transport=transport) as client:
        accepted = client.create_dataset("0x" + os.urandom(32).hex(), title="retried")
        assert client.wait_for_operation(accepted.operation_id).status == "confirmed"
    posts = [r for r in transport.requests if r.method == "POST"]
    assert len(posts) == 2  # the service saw the write twice…
    keys = {r.headers["Idempotency-Key"] for r in posts}
    assert len(keys) == 1  # …with one key…
    assert outbox_size() == before + 1  # …and did it once


def test_each_call_is_a_new_intent_with_a_new_key(
    service: Service, enrol: Callable[[str], Department], outbox_size: Callable[[], int]
) -> None:
    health = enrol("Health")
    transport = Recording()
    content = "0x" + os.urandom(32).hex()
    before = outbox_size()
    with _client(service, health.token, transport=transport) as client:
        first = client.create_dataset(content, title="one")
        second = client.create_dataset(content, title="one")
    assert first.operation_id != second.operation_id
    assert first.resource["dataset_id"] != second.resource["dataset_id"]
    assert len({r.headers["Idempotency-Key"] for r in transport.requests}) == 2
    assert outbox_size() == before + 2


def test_a_hash_only_registration_sends_no_file_bytes(
    service: Service, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health = enrol("Health")
    payload = os.urandom(64 * 1024)
    path = tmp_path / "kept-here.bin"
    path.write_bytes(payload)
    digest = "0x" + hashlib.sha256(payload).hexdigest()
    transport = Recording()
    with _client(service, health.token, transport=transport) as client:
        client.create_dataset(digest, title="kept here")
    [request] = transport.requests
    assert request.headers["content-type"] == "application/json"
    assert len(request.content) < 1024 and payload[:64] not in request.content


def test_an_upload_streams_the_file_and_reports_progress(
    service: Service, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health = enrol("Health")
    payload = os.urandom(300_000)
    path = tmp_path / "sent.bin"
    path.write_bytes(payload)
    progress: list[int] = []
    with _client(service, health.token) as client:
        accepted = client.create_dataset(path, title="sent", on_upload_progress=progress.append)
    assert accepted.resource["content_hash"] == "0x" + hashlib.sha256(payload).hexdigest()
    assert progress == sorted(progress) and progress[-1] == len(payload)
    assert len(progress) > 2  # in chunks, not read whole


def test_waiting_ends_with_a_timeout_error_while_the_relayer_is_stopped(
    service: Service,
    enrol: Callable[[str], Department],
    paused_workers: Callable[[], AbstractContextManager[None]],
) -> None:
    health = enrol("Health")
    seen: list[str] = []
    with _client(service, health.token) as client, paused_workers():
        accepted = client.create_dataset("0x" + os.urandom(32).hex(), title="stuck")
        with pytest.raises(OperationTimeoutError) as caught:
            client.wait_for_operation(
                accepted.operation_id, timeout=0.3, on_update=lambda op: seen.append(op.status)
            )
    assert caught.value.operation.id == accepted.operation_id
    assert caught.value.operation.status == "pending"
    assert isinstance(caught.value, TimeoutError)
    assert set(seen) == {"pending"} and len(seen) >= 2


def test_another_departments_operation_is_not_found(
    service: Service, enrol: Callable[[str], Department]
) -> None:
    health, transport = enrol("Health"), enrol("Transport")
    with _client(service, health.token) as client:
        accepted = client.create_dataset("0x" + os.urandom(32).hex(), title="mine")
    with _client(service, transport.token) as client, pytest.raises(ApiError) as caught:
        client.get_operation(accepted.operation_id)
    assert (caught.value.status, caught.value.code) == (404, "not-found")


def test_an_id_cannot_smuggle_the_client_into_another_route(
    service: Service, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health = enrol("Health")
    path = tmp_path / "kept.csv"
    path.write_bytes(os.urandom(64))
    with _client(service, health.token) as client:
        content = "0x" + hashlib.sha256(path.read_bytes()).hexdigest()
        accepted = client.create_dataset(content, title="kept")
        client.wait_for_operation(accepted.operation_id, timeout=30)
        dataset = accepted.resource["dataset_id"]
        # Pasted as a request id, this would otherwise be POST /v1/datasets/<dataset>/withdraw.
        with pytest.raises(ApiError) as caught:
            client.cancel_access_request(f"../datasets/{dataset}/withdraw?")
        assert caught.value.status in (404, 422)

        def indexed() -> dict[str, object] | None:  # the index follows the chain in the background
            try:
                return client.get_dataset(dataset)
            except ApiError:
                return None

        shown = eventually(indexed)
        assert shown is not None and shown["status"] != "withdrawn"


def test_provenance_comes_decoded_as_prov_json_or_as_text_and_the_catalogue_as_json_ld(
    service: Service, enrol: Callable[[str], Department]
) -> None:
    health = enrol("Health")
    with _client(service, health.token) as client:
        accepted = client.create_dataset("0x" + os.urandom(32).hex(), title="for PROV")
        assert client.wait_for_operation(accepted.operation_id).status == "confirmed"
        dataset_id = accepted.resource["dataset_id"]
        deadline = time.monotonic() + 30
        while True:  # the index catches up with the chain in the background
            try:
                as_json = client.provenance(dataset_id)
                break
            except ApiError as error:
                if error.status != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert f"pl:dataset/{dataset_id}/v/1" in as_json["entity"]
        assert client.provenance(dataset_id, fmt="prov-n").startswith("document")
        assert "prov:Entity" in client.provenance(dataset_id, fmt="turtle", depth=1)
        page = client.catalog(limit=100)
    assert "@context" in page and "next_cursor" in page
    assert dataset_id in [d["dct:identifier"] for d in page["dcat:dataset"]]  # newest first


def test_a_client_without_a_token_reads_a_datasets_grants_now_and_in_the_past(
    service: Service, enrol: Callable[[str], Department]
) -> None:
    owner, reader = enrol("Owner"), enrol("Reader")
    with _client(service, owner.token) as as_owner, _client(service, reader.token) as as_reader:
        created = as_owner.create_dataset("0x" + os.urandom(32).hex(), title="shared")
        assert as_owner.wait_for_operation(created.operation_id).status == "confirmed"
        dataset = created.resource["dataset_id"]
        asked = as_reader.request_access(dataset, purpose="audit", duration_seconds=3600)
        assert as_reader.wait_for_operation(asked.operation_id).status == "confirmed"
        expires = service.runtime.chain.block_time() + 600
        approved = as_owner.approve_access(asked.resource["request_id"], expires_at=expires)
        assert as_owner.wait_for_operation(approved.operation_id).status == "confirmed"

    with _client(service, None) as anonymous:
        deadline = time.monotonic() + 30
        while not (now := anonymous.grants(dataset))["grants"]:  # the index follows the chain
            assert time.monotonic() < deadline, now
            time.sleep(0.1)
        [grant] = now["grants"]
        assert grant["requester"]["department_id"] == reader.id
        assert grant["expires_at"] == expires
        assert anonymous.grants(dataset, at=grant["approved_at"] - 1)["grants"] == []
        assert anonymous.grants(dataset, at=grant["approved_at_utc"])["grants"] == [grant]
        with pytest.raises(ApiError) as caught:
            anonymous.list_datasets()
        assert caught.value.status == 401
