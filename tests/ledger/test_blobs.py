"""The blob store: sealed bytes kept by their SHA-256, whole or not at all, never changed.

Every test runs on both stores: files in a directory, and objects of an S3-compatible store
(moto's server over HTTP on loopback, a fresh bucket per test).
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.blobs import BlobStore, DirectoryBlobStore, S3BlobStore, S3Location, blob_name
from ledger.errors import (
    BlobDigestMismatchError,
    BlobNotFoundError,
    BlobTooLargeError,
    InvalidInputError,
)
from ledger.hashing import Digest


@pytest.fixture(params=["directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "directory":
        yield DirectoryBlobStore(tmp_path / "blobs")
        return
    from moto_s3 import new_bucket, raw_client

    endpoint = request.getfixturevalue("s3_endpoint")
    request.getfixturevalue("s3_env")
    bucket = new_bucket(raw_client(endpoint))
    yield S3BlobStore.connect(S3Location(bucket, "sealed/"), endpoint_url=endpoint)


def digest_of(data: bytes) -> Digest:
    return Digest(hashlib.sha256(data).digest())


def _raw(store: S3BlobStore) -> Any:
    from moto_s3 import raw_client

    return raw_client(store._client.meta.endpoint_url)  # type: ignore[attr-defined]


def names(store: BlobStore) -> list[str]:
    """Every name the store holds, blob or not, relative to its root or prefix."""
    if isinstance(store, DirectoryBlobStore):
        if not store.root.exists():
            return []
        return sorted(
            path.relative_to(store.root).as_posix()
            for path in store.root.rglob("*")
            if path.is_file()
        )
    from moto_s3 import keys

    assert isinstance(store, S3BlobStore)
    return keys(_raw(store), store.location.bucket, store.location.prefix)


def leftovers(store: BlobStore) -> list[str]:
    """Everything in the store that is not a blob under its name: staged uploads left behind,
    and (S3) multipart uploads neither completed nor aborted."""
    staged = [name for name in names(store) if "/." in "/" + name]  # staged uploads: dot names
    if isinstance(store, S3BlobStore):
        from moto_s3 import pending_uploads

        staged += pending_uploads(_raw(store), store.location.bucket)
    return staged


def tamper(store: BlobStore, digest: Digest, data: bytes) -> None:
    """Change a blob's bytes behind the store's back (a disk, an operator)."""
    if isinstance(store, DirectoryBlobStore):
        path = store.path(digest)
        path.chmod(0o600)
        path.write_bytes(data)
        return
    assert isinstance(store, S3BlobStore)
    _raw(store).put_object(Bucket=store.location.bucket, Key=store.key(digest), Body=data)


def test_a_blob_is_kept_under_its_sha256_and_read_back(store: BlobStore) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # more than one buffer, and not a multiple of one

    stored = store.put(io.BytesIO(data))

    assert (stored.digest, stored.size, stored.created) == (digest_of(data), len(data), True)
    hex_name = stored.digest.value.hex()
    assert names(store) == [f"sha256/{hex_name[:2]}/{hex_name[2:4]}/{hex_name}"]
    assert blob_name(stored.digest) == names(store)[0]
    with store.open(stored.digest) as blob:
        assert blob.read() == data
    assert store.size(stored.digest) == len(data)
    assert store.exists(stored.digest) and store.verify(stored.digest)
    assert leftovers(store) == []


def test_an_empty_blob_is_a_blob(store: BlobStore) -> None:
    stored = store.put(io.BytesIO(b""))
    assert stored.digest == digest_of(b"") and stored.size == 0
    with store.open(stored.digest) as blob:
        assert blob.read() == b""


def test_the_same_bytes_are_stored_once(store: BlobStore) -> None:
    data = os.urandom(1000)

    first = store.put(io.BytesIO(data))
    second = store.put(io.BytesIO(data), expected=digest_of(data))

    assert first.created and not second.created
    assert first.digest == second.digest
    assert leftovers(store) == []


def test_bytes_that_do_not_hash_to_the_announced_digest_are_not_kept(
    store: BlobStore,
) -> None:
    announced = digest_of(b"the upload as it left")

    with pytest.raises(BlobDigestMismatchError) as refused:
        store.put(io.BytesIO(b"the upload as it left, cut"), expected=announced)

    assert refused.value.code == "blob-digest-mismatch"
    assert not store.exists(announced)
    assert not store.exists(digest_of(b"the upload as it left, cut"))
    assert leftovers(store) == []


def test_a_blob_over_its_bound_is_refused_as_it_arrives_and_not_kept(
    store: BlobStore,
) -> None:
    class Endless(io.RawIOBase):
        """More bytes than any bound: the store must stop reading, not wait for the end."""

        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            self.served += len(buffer)
            return len(buffer)

    source = Endless()
    with pytest.raises(BlobTooLargeError) as refused:
        store.put(source, max_size=5 << 20)  # type: ignore[arg-type]

    assert refused.value.code == "blob-too-large"
    assert source.served <= (5 << 20) + (1 << 20)
    assert leftovers(store) == []


def test_a_download_resumes_from_an_offset(store: BlobStore) -> None:
    data = os.urandom(10_000)
    digest = store.put(io.BytesIO(data)).digest

    with store.open(digest, offset=4096) as rest:
        assert rest.read() == data[4096:]
    with store.open(digest, offset=len(data)) as nothing:
        assert nothing.read() == b""
    with pytest.raises(InvalidInputError):
        store.open(digest, offset=len(data) + 1)
    with pytest.raises(InvalidInputError):
        store.open(digest, offset=-1)


def test_an_unknown_blob_is_not_found(store: BlobStore) -> None:
    missing = digest_of(b"never stored")
    with pytest.raises(BlobNotFoundError) as refused:
        store.open(missing)
    assert refused.value.code == "blob-not-found"
    with pytest.raises(BlobNotFoundError):
        store.size(missing)
    assert not store.exists(missing)


def test_a_blob_changed_behind_the_stores_back_no_longer_verifies(store: BlobStore) -> None:
    digest = store.put(io.BytesIO(b"sealed bytes")).digest
    tamper(store, digest, b"sealed bytez")

    assert not store.verify(digest)


def test_concurrent_uploads_of_the_same_bytes_leave_one_blob(store: BlobStore) -> None:
    data = os.urandom(2 << 20)
    results = []

    def upload() -> None:
        results.append(store.put(io.BytesIO(data), expected=digest_of(data)))

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    created = sorted(result.created for result in results)
    if isinstance(store, S3BlobStore):
        # S3 and MinIO make a conditional write (If-None-Match) atomic; moto's server checks,
        # then writes, so racing writers of the same bytes may each be told they created it.
        assert len(created) == 4 and created[-1]
    else:
        assert created == [False, False, False, True]
    with store.open(digest_of(data)) as blob:
        assert blob.read() == data
    assert leftovers(store) == []


def test_a_blob_is_named_by_a_digest_only(store: BlobStore) -> None:
    with pytest.raises(InvalidInputError):
        store.open("../../etc/passwd")  # type: ignore[arg-type]
