"""The typed v1 API: one method per route the command line needs, and waiting for writes."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import quote

from api.client._errors import OperationTimeoutError
from api.client._http import BodyReader, Http, file_upload
from ledger.closing import ClosesOnExit

if TYPE_CHECKING:
    import httpx2

    from api.schemas import Accepted, DepartmentEnrolled, OperationPublic, TokenIssued

#: A parent version: (dataset id as 0x-hex, version number).
Parent = tuple[str, int]

#: Operation states after which nothing changes any more.
SETTLED = frozenset({"confirmed", "failed"})


# The answers are parsed into api.schemas models, imported on first use: building those models
# takes a third of a second, which every `provledger` command would otherwise pay at start-up.


def _accepted(answer: Any) -> Accepted:
    from api.schemas import Accepted

    return Accepted.model_validate(answer)


def _enrolled(answer: Any) -> DepartmentEnrolled:
    from api.schemas import DepartmentEnrolled

    return DepartmentEnrolled.model_validate(answer)


def _token(answer: Any) -> TokenIssued:
    from api.schemas import TokenIssued

    return TokenIssued.model_validate(answer)


def _operation(answer: Any) -> OperationPublic:
    from api.schemas import OperationPublic

    return OperationPublic.model_validate(answer)


def _seg(value: str) -> str:
    """An id as one path segment: whatever was typed, it cannot reach another route."""
    return quote(value, safe="")


def _parents(parents: Sequence[Parent]) -> list[dict[str, Any]]:
    return [{"dataset_id": dataset_id, "version": version} for dataset_id, version in parents]


class ProvledgerClient(ClosesOnExit):
    """The v1 API at ``base_url``, authenticated with a bearer ``token`` (None: no token, for
    the reads the service serves to anyone where public reads are open).

    ``transport`` is injected for tests and proxies (an ``httpx2`` transport). Requests that get
    no answer are retried ``retries`` times with exponential backoff; writes keep their
    Idempotency-Key across those retries. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.25,
    ) -> None:
        self._http = Http(
            base_url,
            token,
            transport=transport,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )

    def close(self) -> None:
        """Close the connections (the context manager does it on exit)."""
        self._http.close()

    # --- the requests most methods make ---------------------------------------------------

    def _write(
        self, path: str, body: Mapping[str, Any] | None = None, *, idempotency_key: str | None
    ) -> Accepted:
        """A write the service accepts for the chain (202): the answer names its operation."""
        return _accepted(self._http.post(path, body, idempotency_key=idempotency_key))

    def _read(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A read: the decoded JSON object (parameters that are None are left out)."""
        return dict(self._http.send("GET", path, params=params))

    # --- writes naming content ------------------------------------------------------------

    def _write_content(
        self,
        path: str,
        content: str | Path,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str | None,
        on_upload_progress: Callable[[int], None] | None,
    ) -> Accepted:
        """A JSON write naming ``content`` by hash (str), or a multipart upload of a file (Path)
        whose other parts are ``fields``, objects as JSON text."""
        if isinstance(content, str):
            body = {"content_hash": content, **fields}
            return self._write(path, body, idempotency_key=idempotency_key)
        upload = file_upload(content, fields, on_upload_progress)
        answer = self._http.post(path, idempotency_key=idempotency_key, upload=upload)
        return _accepted(answer)

    # --- governance -----------------------------------------------------------------------

    def enrol_department(
        self,
        department_id: int,
        name: str,
        *,
        signer_address: str | None = None,
        idempotency_key: str | None = None,
    ) -> DepartmentEnrolled:
        """Enrol a department (governance). The answer holds its first token, shown once."""
        body: dict[str, Any] = {"department_id": department_id, "name": name}
        if signer_address is not None:
            body["signer_address"] = signer_address
        answer = self._http.post("/v1/departments", body, idempotency_key=idempotency_key)
        return _enrolled(answer)

    def suspend_department(
        self, department_id: int, *, reason: str = "", idempotency_key: str | None = None
    ) -> Accepted:
        """Suspend a department (governance): its actions are refused until reactivated."""
        return self._write(
            f"/v1/departments/{department_id}/suspend",
            {"reason": reason},
            idempotency_key=idempotency_key,
        )

    def reactivate_department(
        self, department_id: int, *, idempotency_key: str | None = None
    ) -> Accepted:
        """Reactivate a suspended department (governance)."""
        return self._write(
            f"/v1/departments/{department_id}/reactivate", idempotency_key=idempotency_key
        )

    def issue_department_token(self, department_id: int, *, label: str = "") -> TokenIssued:
        """Another token for a department (governance); the secret is shown once."""
        answer = self._http.post(f"/v1/departments/{department_id}/tokens", {"label": label})
        return _token(answer)

    def issue_auditor_token(self, *, label: str = "") -> TokenIssued:
        """A token that reads and verifies only (governance); the secret is shown once."""
        return _token(self._http.post("/v1/auditors", {"label": label}))

    def revoke_token(self, token_id: str) -> dict[str, Any]:
        """Revoke a token by its id (governance); it is refused from now on."""
        return dict(self._http.post(f"/v1/tokens/{_seg(token_id)}/revoke"))

    def whoami(self) -> dict[str, Any]:
        """Whom this client's token speaks for (``kind``, ``department_id``, ``token_id``) and
        the ``deployment`` it acts on (chain id, contract addresses)."""
        return self._read("/v1/me")

    # --- encryption keys ------------------------------------------------------------------

    def publish_encryption_key(
        self,
        department_id: int,
        *,
        kem: str | None = None,
        public_key: bytes | None = None,
        signature: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Accepted:
        """Publish the department's encryption key: without ``public_key`` (its encoding: the
        2-byte KEM id, then the raw key) the service generates the key pair (of ``kem``:
        ``"x25519"`` or ``"mlkem768-x25519"``, the default) and keeps its private half."""
        body: dict[str, Any] = {}
        if kem is not None:
            body["kem"] = kem
        if public_key is not None:
            body["public_key"] = "0x" + bytes(public_key).hex()
        if signature is not None:
            body["signature"] = dict(signature)
        return self._write(
            f"/v1/departments/{department_id}/encryption-keys",
            body,
            idempotency_key=idempotency_key,
        )

    def encryption_key(self, department_id: int) -> dict[str, Any]:
        """The department's encryption key in force (checked against the key directory)."""
        return self._read(f"/v1/departments/{department_id}/encryption-key")

    def encryption_keys(
        self, department_id: int, *, cursor: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """One page of the keys the department published, newest first."""
        params = {"cursor": cursor, "limit": limit}
        return self._read(f"/v1/departments/{department_id}/encryption-keys", params)

    def department_nonces(self, department_id: int) -> dict[str, Any]:
        """The nonces a department's own next signatures must carry, per contract."""
        return self._read(f"/v1/departments/{department_id}/nonces")

    # --- datasets -------------------------------------------------------------------------

    def create_dataset(
        self,
        content: str | Path,
        *,
        title: str,
        description: str = "",
        classification: str = "internal",
        licence: str = "",
        source_system: str = "",
        tags: Sequence[str] = (),
        parents: Sequence[Parent] = (),
        anchoring: str = "chain",
        salt: str | None = None,
        sealed: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        on_upload_progress: Callable[[int], None] | None = None,
    ) -> Accepted:
        """Register a dataset and its first version. ``content`` is the 0x-hex SHA-256 of the
        bytes (they stay with the caller) or a file to upload (the service hashes it).
        ``sealed`` (with ``salt`` and a hash) describes sealed bytes uploaded with
        :meth:`put_blob` (see :func:`api.client.seal_file`)."""
        metadata = {
            "title": title,
            "description": description,
            "licence": licence,
            "source_system": source_system,
            "tags": list(tags),
        }
        fields = {
            "classification": classification,
            "metadata": metadata,
            "parents": _parents(parents),
            **({"anchoring": anchoring} if anchoring != "chain" else {}),
            **({"salt": salt} if salt is not None else {}),
            **({"sealed": dict(sealed)} if sealed is not None else {}),
        }
        return self._write_content(
            "/v1/datasets",
            content,
            fields,
            idempotency_key=idempotency_key,
            on_upload_progress=on_upload_progress,
        )

    def register_batch(
        self, records: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Queue many records for batched anchoring (``POST /v1/datasets/batch``): each a new
        dataset (``content_hash``, ``metadata`` with a title…) or a version (``dataset_id``).
        All are stored or none; the answer lists each record's operation id in order."""
        answer = self._http.post(
            "/v1/datasets/batch", {"records": list(records)}, idempotency_key=idempotency_key
        )
        return dict(answer)

    def verify_batch(
        self, content_hashes: Sequence[str], *, detail: str = "summary"
    ) -> dict[str, Any]:
        """Verify up to 10,000 hashes in one request (``POST /v1/verify/batch``): a verdict per
        hash in order, with its status, as of one block."""
        answer = self._http.post(
            "/v1/verify/batch", {"content_hashes": list(content_hashes), "detail": detail}
        )
        return dict(answer)

    def add_version(
        self,
        dataset_id: str,
        content: str | Path,
        *,
        note: str = "",
        tags: Sequence[str] = (),
        parents: Sequence[Parent] = (),
        sealed: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        on_upload_progress: Callable[[int], None] | None = None,
    ) -> Accepted:
        """Append a version to one of the caller's datasets; ``content`` and ``sealed`` as for
        :meth:`create_dataset`."""
        fields: dict[str, Any] = {
            "metadata": {"note": note, "tags": list(tags)},
            "parents": _parents(parents),
        }
        if sealed is not None:
            fields["sealed"] = dict(sealed)
        return self._write_content(
            f"/v1/datasets/{_seg(dataset_id)}/versions",
            content,
            fields,
            idempotency_key=idempotency_key,
            on_upload_progress=on_upload_progress,
        )

    # --- sealed exchange ------------------------------------------------------------------

    def put_blob(
        self, file: Path, sha256: str, *, on_progress: Callable[[int], None] | None = None
    ) -> dict[str, Any]:
        """Upload sealed bytes to the blob store under their SHA-256 (0x-hex)."""
        return dict(self._http.put_file(f"/v1/blobs/sha256/{_seg(sha256[2:])}", file, on_progress))

    def sealed_key(self, dataset_id: str, version: int) -> dict[str, Any]:
        """This department's wrapped content key of a sealed version, with its binding."""
        return self._read(f"/v1/datasets/{_seg(dataset_id)}/versions/{version}/sealed-key")

    def content_key(self, dataset_id: str, version: int) -> dict[str, Any]:
        """A sealed version's content key, unwrapped by the service with this department's
        custodial encryption key."""
        path = f"/v1/datasets/{_seg(dataset_id)}/versions/{version}/content-key"
        return dict(self._http.send("POST", path))

    def sealed_reader(
        self, dataset_id: str, version: int, *, start: int = 0, end: int | None = None
    ) -> AbstractContextManager[BodyReader]:
        """A sealed version's bytes from ``start`` (to ``end``) as a stream read as it
        arrives: ``with client.sealed_reader(…) as reader: …``."""
        path = f"/v1/datasets/{_seg(dataset_id)}/versions/{version}/sealed"
        return self._http.body_reader(path, start=start, end=end)

    def hand_over_key(
        self, dataset_id: str, *, sealed_sha256: str, department_id: int, wrapped_key: str
    ) -> dict[str, Any]:
        """Hand over a content key this (self-custody) owner wrapped to ``department_id``."""
        body = {
            "sealed_sha256": sealed_sha256,
            "department_id": department_id,
            "wrapped_key": wrapped_key,
        }
        return dict(self._http.post(f"/v1/datasets/{_seg(dataset_id)}/sealed-keys", body))

    def post_receipt(
        self,
        dataset_id: str,
        version: int,
        *,
        content_hash: str,
        sealed_sha256: str,
        request_id: str | None = None,
        time: int | None = None,
        signature: str | None = None,
    ) -> dict[str, Any]:
        """Acknowledge a sealed version this department fetched (a delivery receipt): signed
        with ``signature`` (0x-hex, the department's own over the receipt's EIP-712 typed
        data) or, without, by the service with the department's custodial key."""
        body: dict[str, Any] = {
            "dataset_id": dataset_id,
            "version": version,
            "content_hash": content_hash,
            "sealed_sha256": sealed_sha256,
        }
        if request_id is not None:
            body["request_id"] = request_id
        if time is not None:
            body["time"] = time
        if signature is not None:
            body["signature"] = {"signature": signature}
        return dict(self._http.post("/v1/receipts", body))

    def dataset_receipts(self, dataset_id: str, *, limit: int = 100) -> dict[str, Any]:
        """The delivery receipts of a dataset this token may read, newest first."""
        return self._read(f"/v1/datasets/{_seg(dataset_id)}/receipts", {"limit": limit})

    def receipt(self, receipt_id: str) -> dict[str, Any]:
        """One delivery receipt, with its proof bundle once its batch is anchored."""
        return self._read(f"/v1/receipts/{_seg(receipt_id)}")

    def withdraw_dataset(
        self, dataset_id: str, *, reason: str = "", idempotency_key: str | None = None
    ) -> Accepted:
        """Withdraw one of the caller's datasets (an event; its history stays)."""
        return self._write(
            f"/v1/datasets/{_seg(dataset_id)}/withdraw",
            {"reason": reason},
            idempotency_key=idempotency_key,
        )

    def list_datasets(
        self, *, owner: int | None = None, cursor: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """One page: ``items``, ``next_cursor`` (None on the last page), ``indexed_block``."""
        params = {"owner": owner, "cursor": cursor, "limit": limit}
        return self._read("/v1/datasets", params)

    def get_dataset(self, dataset_id: str) -> dict[str, Any]:
        """A dataset with its versions, as the index shows it."""
        return self._read(f"/v1/datasets/{_seg(dataset_id)}")

    def get_version(self, dataset_id: str, version: int) -> dict[str, Any]:
        """One version of a dataset."""
        return self._read(f"/v1/datasets/{_seg(dataset_id)}/versions/{version}")

    def get_lineage(
        self, dataset_id: str, *, version: int | None = None, depth: int = 5
    ) -> dict[str, Any]:
        """Edges to ancestors and descendants up to ``depth`` steps from the dataset's versions
        (or one ``version``), and between its own versions (``within``)."""
        params = {"version": version, "depth": depth}
        return self._read(f"/v1/datasets/{_seg(dataset_id)}/lineage", params)

    @overload
    def provenance(
        self,
        dataset_id: str,
        *,
        fmt: Literal["prov-json"] = "prov-json",
        version: int | None = None,
        depth: int = 5,
    ) -> dict[str, Any]: ...

    @overload
    def provenance(
        self,
        dataset_id: str,
        *,
        fmt: Literal["prov-n", "turtle"],
        version: int | None = None,
        depth: int = 5,
    ) -> str: ...

    def provenance(
        self,
        dataset_id: str,
        *,
        fmt: Literal["prov-json", "prov-n", "turtle"] = "prov-json",
        version: int | None = None,
        depth: int = 5,
    ) -> dict[str, Any] | str:
        """The dataset's provenance as W3C PROV (its versions, or one ``version``, and their
        ancestors up to ``depth`` steps): PROV-JSON decoded, PROV-N or Turtle as text."""
        path = f"/v1/datasets/{_seg(dataset_id)}/provenance"
        params = {"format": fmt, "version": version, "depth": depth}
        if fmt == "prov-json":
            return self._read(path, params)
        return str(self._http.send("GET", path, params=params, as_text=True))

    def catalog(self, *, cursor: str | None = None, limit: int = 20) -> dict[str, Any]:
        """One page of the DCAT-AP catalogue (JSON-LD, decoded): ``dcat:dataset`` and the
        ``next_cursor`` of the next page (None on the last)."""
        return self._read("/v1/catalog", {"cursor": cursor, "limit": limit})

    def audit_events(
        self,
        *,
        dataset: str | None = None,
        department: int | None = None,
        kind: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """One page of the event history, oldest first."""
        params = {
            "dataset": dataset,
            "department": department,
            "kind": kind,
            "cursor": cursor,
            "limit": limit,
        }
        return self._read("/v1/audit/events", params)

    # --- access ---------------------------------------------------------------------------

    def request_access(
        self,
        dataset_id: str,
        *,
        purpose: str,
        duration_seconds: int,
        idempotency_key: str | None = None,
    ) -> Accepted:
        """Ask the owner for access; ``resource["request_id"]`` names the request."""
        body = {"purpose": purpose, "duration_seconds": duration_seconds}
        return self._write(
            f"/v1/datasets/{_seg(dataset_id)}/access-requests",
            body,
            idempotency_key=idempotency_key,
        )

    def approve_access(
        self, request_id: str, *, expires_at: int, idempotency_key: str | None = None
    ) -> Accepted:
        """Grant a pending request on one of the caller's datasets until ``expires_at``."""
        return self._write(
            f"/v1/access-requests/{_seg(request_id)}/approve",
            {"expires_at": expires_at},
            idempotency_key=idempotency_key,
        )

    def deny_access(
        self, request_id: str, *, reason: str = "", idempotency_key: str | None = None
    ) -> Accepted:
        """Refuse a pending request on one of the caller's datasets."""
        return self._write(
            f"/v1/access-requests/{_seg(request_id)}/deny",
            {"reason": reason},
            idempotency_key=idempotency_key,
        )

    def cancel_access_request(
        self, request_id: str, *, idempotency_key: str | None = None
    ) -> Accepted:
        """Withdraw the caller's own pending request."""
        return self._write(
            f"/v1/access-requests/{_seg(request_id)}/cancel", {}, idempotency_key=idempotency_key
        )

    def revoke_access(
        self, request_id: str, *, reason: str = "", idempotency_key: str | None = None
    ) -> Accepted:
        """End an approved grant (a grant's id is its request's id)."""
        return self._write(
            f"/v1/grants/{_seg(request_id)}/revoke",
            {"reason": reason},
            idempotency_key=idempotency_key,
        )

    def list_access_requests(
        self,
        *,
        role: str | None = None,
        status: str | None = None,
        dataset: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """One page of requests, newest first: ``role`` ``incoming`` (for the caller's datasets)
        or ``outgoing`` (by the caller); ``items``, ``next_cursor``, ``indexed_block``."""
        params = {
            "role": role,
            "status": status,
            "dataset": dataset,
            "cursor": cursor,
            "limit": limit,
        }
        return self._read("/v1/access-requests", params)

    def get_access_request(self, request_id: str) -> dict[str, Any]:
        """One request as the chain has it, with its purpose when the service kept it."""
        return self._read(f"/v1/access-requests/{_seg(request_id)}")

    def has_access(
        self, dataset_id: str, department_id: int, *, block: int | None = None
    ) -> dict[str, Any]:
        """The contract's answer (``has_access``) with the block it was asked at."""
        params = {"department": department_id, "block": block}
        return self._read(f"/v1/datasets/{_seg(dataset_id)}/access", params)

    def grants(self, dataset_id: str, *, at: int | str | None = None) -> dict[str, Any]:
        """The dataset's grants in force at ``at`` (Unix seconds or RFC 3339; default: the
        chain's latest block time), each with its approval's chain coordinates. A public read:
        a client without a token may ask where the service's reads are open."""
        return self._read(f"/v1/datasets/{_seg(dataset_id)}/grants", {"at": at})

    # --- operations -----------------------------------------------------------------------

    def get_operation(self, operation_id: str) -> OperationPublic:
        """Where a write stands now."""
        return _operation(self._http.send("GET", f"/v1/operations/{_seg(operation_id)}"))

    def wait_for_operation(
        self,
        operation_id: str,
        *,
        timeout: float = 120.0,
        on_update: Callable[[OperationPublic], None] | None = None,
        max_interval: float = 1.0,
    ) -> OperationPublic:
        """Poll until the operation is ``confirmed`` or ``failed`` and return it (a failure is
        an answer, not an exception: ``error`` says why). Polls quickly at first, then back off
        to ``max_interval``. Raises :class:`OperationTimeoutError` after ``timeout`` seconds."""
        started = time.monotonic()
        interval = 0.05
        while True:
            operation = self.get_operation(operation_id)
            if on_update is not None:
                on_update(operation)
            if operation.status in SETTLED:
                return operation
            waited = time.monotonic() - started
            if waited >= timeout:
                raise OperationTimeoutError(operation, waited)
            time.sleep(min(interval, timeout - waited))
            interval = min(interval * 1.5, max_interval)
