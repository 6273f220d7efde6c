"""Sealed datasets' bytes, stored by content: each blob is named by the SHA-256 of its bytes.

A blob is written whole or not at all and never changed afterwards: its name is its digest, so
storing the same bytes twice stores them once, and a reader can check what it got against the
name it asked for. The digest is computed while the bytes stream in, and a blob whose bytes do
not hash to the digest the caller announced is refused before it gets a name (an upload cut
short, or altered on the way).

The store holds sealed bytes only (``docs/sealed-format.md``): whoever reads a blob learns
nothing without a content key, so the store needs no access control of its own; the service
decides who may download (the contract's ``hasAccess``), and the wrapped key decides who can
read.

Two stores, one protocol (:class:`BlobStore`), one naming (``sha256/<2 hex>/<2 hex>/<64
hex>``, two levels of 256 so that no listing grows past a few thousand entries at millions of
blobs): :class:`DirectoryBlobStore` keeps blobs as files (the data directory by default), and
:class:`S3BlobStore` as objects of any S3-compatible store (AWS S3, MinIO, Ceph…), chosen by
``PROVLEDGER_BLOB_STORE=s3://bucket/prefix``. boto3 is imported only when an S3 store is made.
"""

from ledger.blobs.base import BlobStore, StoredBlob, blob_name
from ledger.blobs.directory import DirectoryBlobStore
from ledger.blobs.s3 import S3BlobStore, S3Location

__all__ = [
    "BlobStore",
    "DirectoryBlobStore",
    "S3BlobStore",
    "S3Location",
    "StoredBlob",
    "blob_name",
]
