"""The S3 blob store's own ways: multipart uploads in bounded memory, nothing named before its
digest checks, staged uploads cleaned up, a store that cannot be reached, the configuration.

Against moto's S3 server in its own process, over HTTP on loopback (``tests/moto_s3.py``); the
behaviour both stores share is in ``test_blobs.py``.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from moto_s3 import keys, new_bucket, pending_uploads, raw_client

from api.errors import status_of
from ledger.blobs import DirectoryBlobStore, S3BlobStore, S3Location
from ledger.chain.anvil import free_port
from ledger.config import Settings
from ledger.errors import (
    BlobDigestMismatchError,
    BlobStoreError,
    BlobStoreUnavailableError,
    BlobTooLargeError,
    ConfigurationError,
    IncompleteUploadError,
)
from ledger.hashing import Digest
from ledger.runtime import open_blob_store

MiB = 1 << 20
PART = 5 * MiB  # S3's smallest part: a 40 MiB blob goes up in 8 parts


class Pattern(io.RawIOBase):
    """``size`` bytes made as they are read (never all in memory), the same for the same seed;
    cut off once ``fail_at`` bytes are served, as a client that went away."""

    def __init__(self, size: int, seed: bytes = b"s", *, fail_at: int | None = None) -> None:
        self._size, self._served, self._fail_at = size, 0, fail_at
        self._block = hashlib.sha256(seed).digest() * (MiB // 32)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._fail_at is not None and self._served >= self._fail_at:
            raise IncompleteUploadError("the client went away")
        start = self._served % len(self._block)  # the bytes depend on their position only
        count = min(len(buffer), self._size - self._served, len(self._block) - start)
        buffer[:count] = self._block[start : start + count]
        self._served += count
        return count

    @staticmethod
    def digest(size: int, seed: bytes = b"s") -> Digest:
        hasher, source = hashlib.sha256(), Pattern(size, seed)
        while chunk := source.read(MiB):
            hasher.update(chunk)
        return Digest(hasher.digest())


@pytest.fixture
def bucket(s3_endpoint: str, s3_env: None) -> str:
    return new_bucket(raw_client(s3_endpoint))


@pytest.fixture
def store(s3_endpoint: str, bucket: str) -> S3BlobStore:
    return S3BlobStore.connect(f"s3://{bucket}/sealed", endpoint_url=s3_endpoint, part_size=PART)


def objects(store: S3BlobStore) -> list[str]:
    return keys(raw_client(store._client.meta.endpoint_url), store.location.bucket)  # type: ignore[attr-defined]


def pending(store: S3BlobStore) -> list[str]:
    return pending_uploads(raw_client(store._client.meta.endpoint_url), store.location.bucket)  # type: ignore[attr-defined]


@pytest.mark.parametrize("announced", [True, False], ids=["announced", "unannounced"])
def test_a_large_blob_goes_up_in_parts_in_bounded_memory(
    store: S3BlobStore, announced: bool
) -> None:
    size = 40 * MiB + 123
    digest = Pattern.digest(size)

    tracemalloc.start()
    try:
        stored = store.put(Pattern(size), expected=digest if announced else None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (stored.digest, stored.size, stored.created) == (digest, size, True)
    assert peak < 2 * PART, f"{peak} bytes held at once for a {size}-byte blob"
    # Named once, under its digest; no staged object and no upload left behind.
    assert objects(store) == [store.key(digest)]
    assert pending(store) == []
    with store.open(digest, offset=size - 1000) as tail:
        assert tail.read() == Pattern(size).readall()[-1000:]
    assert store.verify(digest)
    assert not store.put(Pattern(size), expected=digest if announced else None).created
    assert objects(store) == [store.key(digest)]


def test_a_large_blob_that_does_not_hash_to_its_announced_digest_is_never_named(
    store: S3BlobStore,
) -> None:
    announced = Pattern.digest(12 * MiB, b"as it left")

    with pytest.raises(BlobDigestMismatchError):
        store.put(Pattern(12 * MiB, b"altered on the way"), expected=announced)

    assert objects(store) == [] and pending(store) == []
    assert not store.exists(announced)


@pytest.mark.parametrize(
    "failure",
    [BlobTooLargeError, IncompleteUploadError],
    ids=["too-large", "cut-off"],
)
def test_a_multipart_upload_that_fails_half_way_is_aborted(
    store: S3BlobStore, failure: type[Exception]
) -> None:
    size = 20 * MiB
    if failure is BlobTooLargeError:
        with pytest.raises(BlobTooLargeError):
            store.put(Pattern(size), expected=Pattern.digest(size), max_size=12 * MiB)
    else:
        with pytest.raises(IncompleteUploadError):
            store.put(Pattern(size, fail_at=13 * MiB), expected=Pattern.digest(size))

    assert objects(store) == [] and pending(store) == []


def test_a_store_that_cannot_be_reached_is_unavailable_503(s3_env: None) -> None:
    store = S3BlobStore.connect(
        "s3://nowhere/sealed", endpoint_url=f"http://127.0.0.1:{free_port()}"
    )
    digest = Digest(hashlib.sha256(b"x").digest())

    for attempt in (
        lambda: store.exists(digest),
        lambda: store.open(digest),
        lambda: store.put(io.BytesIO(b"x")),
    ):
        with pytest.raises(BlobStoreUnavailableError) as refused:
            attempt()
        assert refused.value.code == "blob-store-unavailable"
        assert status_of(refused.value) == 503


def test_a_bucket_that_does_not_exist_is_a_store_error(s3_endpoint: str, s3_env: None) -> None:
    store = S3BlobStore.connect("s3://provledger-no-such-bucket", endpoint_url=s3_endpoint)

    with pytest.raises(BlobStoreError) as refused:
        store.put(io.BytesIO(b"sealed"))

    assert "NoSuchBucket" in str(refused.value)
    assert status_of(refused.value) == 500


def test_a_location_is_a_bucket_and_a_prefix() -> None:
    assert S3Location.parse("s3://bucket") == S3Location("bucket", "")
    assert S3Location.parse("s3://bucket/") == S3Location("bucket", "")
    assert S3Location.parse("s3://bucket/a/b/") == S3Location("bucket", "a/b/")
    for wrong in ("https://bucket/a", "s3:///a", "bucket"):
        with pytest.raises(ConfigurationError):
            S3Location.parse(wrong)


def test_the_settings_name_the_store(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    default = open_blob_store(Settings(data_dir=tmp_path))
    assert isinstance(default, DirectoryBlobStore)
    assert default.root == tmp_path / "blobs"

    configured = open_blob_store(
        Settings(blob_store=f"s3://{bucket}/prefix", blob_store_endpoint=s3_endpoint)
    )

    assert isinstance(configured, S3BlobStore)
    assert configured.location == S3Location(bucket, "prefix/")
    stored = configured.put(io.BytesIO(b"sealed"))
    assert objects(configured) == [configured.key(stored.digest)]
    assert configured.key(stored.digest).startswith("prefix/sha256/")
    with pytest.raises(ValueError):
        Settings(blob_store="/var/blobs")


def test_boto3_is_imported_only_when_an_s3_store_is_opened() -> None:
    probe = (
        "import sys, ledger.runtime, ledger.blobs, api.app\n"
        "print(sorted(m for m in ('boto3', 'botocore', 's3transfer') if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"
