"""A real S3 API on a loopback port for the S3 blob store's tests: moto's server in its own
process (boto3 talks HTTP to it, as to MinIO or AWS; nothing is mocked in the test process,
whose memory the bounded-memory tests measure alone)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from ledger.chain.anvil import free_port

#: Credentials moto accepts (any); set for boto3 by the fixtures, never real ones.
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "provledger-test",
    "AWS_SECRET_ACCESS_KEY": "provledger-test-secret",
    "AWS_REGION": "us-east-1",
}


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (plain HTTP), stopped on exit; its endpoint URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **TEST_ENV},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto's server did not start on port {port}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def raw_client(endpoint: str) -> Any:
    """A plain boto3 client of the server, to look behind the store's back."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=TEST_ENV["AWS_REGION"],
        aws_access_key_id=TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )


def new_bucket(client: Any) -> str:
    """A fresh, empty bucket: its name."""
    name = f"provledger-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return name


def keys(client: Any, bucket: str, prefix: str = "") -> list[str]:
    """Every object name under ``prefix``, without the prefix."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"][len(prefix) :] for page in pages for item in page.get("Contents", []))


def pending_uploads(client: Any, bucket: str) -> list[str]:
    """Multipart uploads begun and neither completed nor aborted."""
    return [
        upload["Key"] for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    ]
