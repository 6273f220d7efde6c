"""Blobs as objects of an S3-compatible store (AWS S3, MinIO, Ceph…), through boto3.

Objects are named ``<prefix>sha256/<2 hex>/<2 hex>/<64 hex>``, as the directory store names its
files. A blob becomes visible under its name only once its bytes are known to hash to it:

- a body of less than one part is hashed in memory (one part at most) and sent in one
  ``PutObject``, named by the digest just computed;
- a larger body with an announced digest goes up as a multipart upload to its final name,
  completed only after the digest checks (an incomplete upload is visible to no reader, and
  is aborted on any failure);
- a larger body whose digest is not announced is uploaded under a staging name,
  ``<prefix>sha256/.incoming/<uuid>``, then copied server-side to its name (a multipart copy
  above 5 GiB) and the staging object deleted.

Writes to a final name are conditional (``If-None-Match: *``), so the same bytes stored twice,
even at once, are stored once, and the second writer learns it (``created=False``). A process
killed mid-upload can leave an incomplete multipart upload or a staging object behind, never a
misnamed blob: a bucket lifecycle rule (abort incomplete multipart uploads, expire
``sha256/.incoming/``) sweeps them.

boto3 is imported when a store is connected, never by importing this module (the CLI's
start-up does not pay for it). botocore's exceptions are translated here, at the boundary:
absent objects are :class:`~ledger.errors.BlobNotFoundError`, an unreachable or overloaded
store :class:`~ledger.errors.BlobStoreUnavailableError`, anything else it refuses
:class:`~ledger.errors.BlobStoreError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, cast

from ledger.blobs.base import (
    CHUNK,
    StoredBlob,
    blob_name,
    check_bound,
    check_offset,
    hex_of,
    read_into,
)
from ledger.errors import (
    BlobDigestMismatchError,
    BlobNotFoundError,
    BlobStoreError,
    BlobStoreUnavailableError,
    BlobTooLargeError,
    ConfigurationError,
    InvalidInputError,
    LedgerError,
)
from ledger.hashing import Digest, sha256_stream

__all__ = ["S3BlobStore", "S3Client", "S3Location"]

MiB = 1 << 20
#: S3's bounds on a multipart upload: parts but the last of at least 5 MiB, at most 10,000.
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000
#: The largest object one ``CopyObject`` copies; above it, a multipart copy.
_COPY_WHOLE_LIMIT = 5 * 1024 * MiB
_COPY_PART_SIZE = 512 * MiB
#: Error codes a store answers when it is overloaded or failing, whatever the status.
_UNAVAILABLE_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "RequestTimeout", "Throttling", "InternalError"}
)
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True, slots=True)
class S3Location:
    """A bucket and a key prefix (empty, or ending in ``/``), from ``s3://bucket/prefix``."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        scheme, sep, rest = url.partition("://")
        if scheme != "s3" or not sep:
            raise ConfigurationError(f"a blob store URL is s3://bucket[/prefix], got {url!r}")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ConfigurationError(f"the blob store URL {url!r} names no bucket")
        prefix = prefix.strip("/")
        return cls(bucket, prefix + "/" if prefix else "")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


class S3Client(Protocol):
    """The calls of boto3's S3 client this store makes (botocore has no type hints)."""

    def head_object(self, *, Bucket: str, Key: str) -> Mapping[str, Any]: ...

    def get_object(self, *, Bucket: str, Key: str, Range: str = ...) -> Mapping[str, Any]: ...

    def put_object(
        self, *, Bucket: str, Key: str, Body: bytes | bytearray, IfNoneMatch: str = ...
    ) -> Mapping[str, Any]: ...

    def create_multipart_upload(self, *, Bucket: str, Key: str) -> Mapping[str, Any]: ...

    def upload_part(
        self, *, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes | bytearray
    ) -> Mapping[str, Any]: ...

    def complete_multipart_upload(
        self,
        *,
        Bucket: str,
        Key: str,
        UploadId: str,
        MultipartUpload: Mapping[str, Any],
        IfNoneMatch: str = ...,
    ) -> Mapping[str, Any]: ...

    def abort_multipart_upload(
        self, *, Bucket: str, Key: str, UploadId: str
    ) -> Mapping[str, Any]: ...

    def delete_object(self, *, Bucket: str, Key: str) -> Mapping[str, Any]: ...

    def copy(
        self, CopySource: Mapping[str, str], Bucket: str, Key: str, Config: Any = ...
    ) -> None: ...


class S3BlobStore:
    """Blobs as objects under ``location`` of the store ``client`` talks to."""

    __slots__ = ("_client", "_location", "_part_size")

    def __init__(self, client: S3Client, location: S3Location, *, part_size: int = 8 * MiB):
        if part_size < MIN_PART_SIZE:
            raise InvalidInputError(f"S3 parts are at least {MIN_PART_SIZE} bytes")
        self._client = client
        self._location = location
        self._part_size = part_size

    @classmethod
    def connect(
        cls,
        location: S3Location | str,
        *,
        endpoint_url: str | None = None,
        part_size: int = 8 * MiB,
    ) -> S3BlobStore:
        """A store at ``location`` (``s3://bucket/prefix``), reached at ``endpoint_url`` (any
        S3-compatible service; addressed path-style) or AWS's endpoint for the region. Region
        and credentials come from boto3's usual sources (``AWS_REGION``,
        ``AWS_ACCESS_KEY_ID``…, profiles, instance roles); nothing is sent until first use."""
        if isinstance(location, str):
            location = S3Location.parse(location)
        import boto3  # here, not at the top: only a service with an S3 store pays for it
        from botocore.config import Config

        config = Config(
            # MinIO, Ceph and moto serve buckets as paths, not as host names.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"mode": "standard", "max_attempts": 4},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=32,
            # The digest is checked before anything is named; botocore's default trailing
            # checksums are refused by some S3-compatible stores.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        with _translated(f"connect to the blob store {location}"):
            client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
        return cls(cast(S3Client, client), location, part_size=part_size)

    @property
    def location(self) -> S3Location:
        return self._location

    def key(self, digest: Digest) -> str:
        """The object name of the blob ``digest``."""
        return self._location.prefix + blob_name(digest)

    def staging_prefix(self) -> str:
        """Where uploads of unannounced digests wait to be named."""
        return self._location.prefix + "sha256/.incoming/"

    def put(
        self, stream: BinaryIO, *, expected: Digest | None = None, max_size: int | None = None
    ) -> StoredBlob:
        """Store the bytes of ``stream`` (to its end); their digest and size.

        Raises :class:`~ledger.errors.BlobDigestMismatchError` if ``expected`` is given and the
        bytes hash to another digest, and :class:`~ledger.errors.BlobTooLargeError` as soon as
        more than ``max_size`` bytes arrive; in both cases nothing is named.
        """
        check_bound(max_size)
        if expected is not None:
            hex_of(expected)
        part_size = self._part_size
        if max_size is not None:  # S3 takes 10,000 parts at most: larger parts for larger bounds
            part_size = max(part_size, -(-max_size // MAX_PARTS))
        hasher = hashlib.sha256()
        part = bytearray(part_size)
        filled = _fill(stream, part, hasher, 0, max_size)
        if filled < part_size:
            del part[filled:]
            digest = _checked(hasher, expected)
            return StoredBlob(digest, filled, self._put_whole(digest, part))
        return self._put_in_parts(stream, part, hasher, expected, max_size)

    def _put_whole(self, digest: Digest, body: bytearray) -> bool:
        """Write ``body`` under its name unless a blob is there; whether it was written."""
        if self.exists(digest):
            return False
        try:
            with _translated(f"store blob {digest}"):
                self._client.put_object(
                    Bucket=self._location.bucket, Key=self.key(digest), Body=body, IfNoneMatch="*"
                )
        except _ExistsAlreadyError:
            return False
        return True

    def _put_in_parts(
        self,
        stream: BinaryIO,
        part: bytearray,
        hasher: hashlib._Hash,
        expected: Digest | None,
        max_size: int | None,
    ) -> StoredBlob:
        bucket = self._location.bucket
        # Announced: straight to the final name, which the upload's completion alone makes
        # visible. Unannounced: the name is known at the end only, so a staging name first.
        key = self.key(expected) if expected is not None else self.staging_prefix() + _uuid()
        with _translated("start a multipart upload"):
            upload_id = str(
                self._client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            )
        part_size = len(part)
        parts: list[dict[str, Any]] = []
        size = 0
        completed = False
        try:
            filled = part_size
            while filled:
                number = len(parts) + 1
                if number > MAX_PARTS:
                    raise BlobTooLargeError(
                        f"a blob may hold at most {MAX_PARTS} parts of {part_size} bytes here"
                    )
                with _translated(f"upload part {number} of a blob"):
                    answer = self._client.upload_part(
                        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part
                    )
                parts.append({"ETag": answer["ETag"], "PartNumber": number})
                size += filled
                if filled < part_size:
                    break
                filled = _fill(stream, part, hasher, size, max_size)
                if filled < part_size:
                    del part[filled:]
            digest = _checked(hasher, expected)
            try:
                with _translated(f"complete blob {digest}"):
                    self._client.complete_multipart_upload(
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},
                        **({"IfNoneMatch": "*"} if expected is not None else {}),
                    )
            except _ExistsAlreadyError:
                return StoredBlob(digest, size, created=False)
            completed = True
        finally:
            if not completed:
                with contextlib.suppress(LedgerError), _translated("abort a multipart upload"):
                    self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        if expected is not None:
            return StoredBlob(digest, size, created=True)
        try:
            return StoredBlob(digest, size, created=self._name(key, digest))
        finally:
            with contextlib.suppress(LedgerError), _translated("delete a staged upload"):
                self._client.delete_object(Bucket=bucket, Key=key)

    def _name(self, staged: str, digest: Digest) -> bool:
        """Copy the staged object ``staged`` to the name ``digest`` unless a blob is there."""
        if self.exists(digest):
            return False
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(
            multipart_threshold=_COPY_WHOLE_LIMIT, multipart_chunksize=_COPY_PART_SIZE
        )
        bucket = self._location.bucket
        with _translated(f"name blob {digest}"):
            self._client.copy(
                {"Bucket": bucket, "Key": staged}, bucket, self.key(digest), Config=config
            )
        return True

    def open(self, digest: Digest, *, offset: int = 0) -> BinaryIO:
        """The blob's bytes from ``offset`` (to resume a download), as a binary stream (one
        ranged ``GET``, read as it is consumed)."""
        check_offset(offset)
        key = self.key(digest)
        ranged = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with _translated(f"read blob {digest}"):
                answer = self._client.get_object(Bucket=self._location.bucket, Key=key, **ranged)
        except _RangeNotSatisfiableError:
            size = self.size(digest)
            if offset == size:
                return io.BytesIO()
            raise InvalidInputError(
                f"offset {offset} is past the blob's end ({size} bytes)"
            ) from None
        return cast(BinaryIO, _Download(answer["Body"], digest))

    def size(self, digest: Digest) -> int:
        return int(self._head(digest)["ContentLength"])

    def exists(self, digest: Digest) -> bool:
        try:
            self._head(digest)
        except BlobNotFoundError:
            return False
        return True

    def verify(self, digest: Digest) -> bool:
        """Whether the stored bytes still hash to their name."""
        with self.open(digest) as stream:
            return sha256_stream(stream) == digest

    def _head(self, digest: Digest) -> Mapping[str, Any]:
        with _translated(f"look up blob {digest}"):
            return self._client.head_object(Bucket=self._location.bucket, Key=self.key(digest))


class _Download(io.RawIOBase):
    """A blob's body as it arrives; botocore's failures mid-read translated too."""

    def __init__(self, body: Any, digest: Digest) -> None:
        self._body = body
        self._digest = digest

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        with _translated(f"read blob {self._digest}"):
            return bytes(self._body.read(None if size is None or size < 0 else size))

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._body.close()
        super().close()


class _ExistsAlreadyError(BlobStoreError):
    """A conditional write found an object under the name: the same bytes are stored."""


class _RangeNotSatisfiableError(BlobStoreError):
    """A ranged read starts at or past the object's end."""


def _fill(
    stream: BinaryIO, part: bytearray, hasher: hashlib._Hash, before: int, max_size: int | None
) -> int:
    """Fill ``part`` from ``stream`` (short only at its end), hashing what arrives, refusing
    past ``max_size`` bytes in all as soon as they arrive; how many bytes it holds."""
    filled = 0
    with memoryview(part) as view:
        while filled < len(view):
            with view[filled : filled + CHUNK] as window:
                read = read_into(stream, window)
                if not read:
                    break
                if max_size is not None and before + filled + read > max_size:
                    raise BlobTooLargeError(f"a blob may hold at most {max_size} bytes")
                with window[:read] as chunk:
                    hasher.update(chunk)
            filled += read
    return filled


def _checked(hasher: hashlib._Hash, expected: Digest | None) -> Digest:
    digest = Digest(hasher.digest())
    if expected is not None and digest != expected:
        raise BlobDigestMismatchError(
            f"the bytes received hash to {digest}, not to {expected} as announced"
        )
    return digest


def _uuid() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def _translated(doing: str) -> Iterator[None]:
    """botocore's exceptions raised while ``doing`` as ledger errors."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        HTTPClientError,
        IncompleteReadError,
        NoCredentialsError,
        ResponseStreamingError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        detail = f"the blob store refused to {doing}: {code} {error.get('Message', '')}".strip()
        if code in _NOT_FOUND_CODES:
            raise BlobNotFoundError(f"no blob in this store ({doing})") from None
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
            raise _ExistsAlreadyError(detail) from exc
        if code == "InvalidRange" or status == 416:
            raise _RangeNotSatisfiableError(detail) from exc
        if code in _UNAVAILABLE_CODES or status >= 500:
            raise BlobStoreUnavailableError(detail) from exc
        raise BlobStoreError(detail) from exc
    except (
        BotoConnectionError,  # refused, DNS, connect timeout
        HTTPClientError,  # read timeout, connection closed
        ResponseStreamingError,
        IncompleteReadError,
    ) as exc:
        raise BlobStoreUnavailableError(f"the blob store is unreachable ({doing}): {exc}") from exc
    except NoCredentialsError as exc:
        raise BlobStoreError(f"no credentials for the blob store ({doing}): {exc}") from exc
    except BotoCoreError as exc:
        raise BlobStoreError(f"the blob store failed to {doing}: {exc}") from exc
