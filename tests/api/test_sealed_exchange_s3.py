"""Sealed exchange with the sealed bytes in an S3-compatible store (PROVLEDGER_BLOB_STORE): the
same routes, the bytes in the bucket under their digest (moto's server over HTTP on loopback)."""

from __future__ import annotations

from typing import Any

import pytest
import test_sealed_exchange as sealed_exchange
from fastapi.testclient import TestClient
from moto_s3 import keys, new_bucket, raw_client
from test_sealed_exchange import World, fetch, seal_bytes, upload

from ledger.blobs import S3BlobStore

#: The sealed exchange's departments and helpers, on a runtime with the settings below.
world = sealed_exchange.world


@pytest.fixture
def bucket(s3_endpoint: str, s3_env: None) -> str:
    return new_bucket(raw_client(s3_endpoint))


@pytest.fixture
def settings_overrides(s3_endpoint: str, bucket: str) -> dict[str, Any]:
    """The API's runtime (tests/api/conftest.py) with its blob store in the bucket."""
    return {"blob_store": f"s3://{bucket}/sealed", "blob_store_endpoint": s3_endpoint}


def test_a_sealed_version_goes_through_the_bucket(
    world: World, s3_endpoint: str, bucket: str
) -> None:
    assert isinstance(world.runtime.blobs, S3BlobStore)

    dataset_id, sealed = world.register_sealed()  # PUT /v1/blobs/sha256/…, then registered

    name = sealed.digest.value.hex()
    assert keys(raw_client(s3_endpoint), bucket) == [f"sealed/sha256/{name[:2]}/{name[2:4]}/{name}"]
    again = upload(world.client, world.headers["a"], sealed)
    assert again.status_code == 200  # stored once
    world.grant(dataset_id)
    download = fetch(world, "b", dataset_id)
    assert download.status_code == 200
    assert download.content == sealed.data
    cut = len(sealed.data) // 3
    rest = world.client.get(
        f"/v1/datasets/{dataset_id}/versions/1/sealed",
        headers={**world.headers["b"], "Range": f"bytes={cut}-"},
    )
    assert rest.status_code == 206
    assert sealed.data[:cut] + rest.content == sealed.data


def test_an_upload_that_does_not_hash_to_its_name_leaves_the_bucket_empty(
    client: TestClient, world: World, s3_endpoint: str, bucket: str
) -> None:
    sealed, other = seal_bytes(b"one file"), seal_bytes(b"another file")
    response = client.put(
        f"/v1/blobs/sha256/{other.digest.value.hex()}",
        content=sealed.data,
        headers={**world.headers["a"], "Content-Type": "application/octet-stream"},
    )

    assert response.status_code == 422
    assert response.json()["code"] == "blob-digest-mismatch"
    assert keys(raw_client(s3_endpoint), bucket) == []
