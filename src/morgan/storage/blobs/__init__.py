"""Original files (uploads) by key: a local folder, S3-compatible storage, or either behind
an on-disk upload queue for when the object store is down."""

from morgan.storage.blobs.base import (
    BlobNotFound,
    BlobQueueFull,
    BlobStore,
    BlobStoreError,
    BlobStoreUnavailable,
    BlobTooLarge,
    InvalidBlobKey,
    collect,
    make_blob_key,
    safe_filename,
    validate_blob_key,
)
from morgan.storage.blobs.factory import build_blob_store
from morgan.storage.blobs.local import LocalBlobStore
from morgan.storage.blobs.queued import QueuedBlobStore
from morgan.storage.blobs.s3 import S3BlobStore

__all__ = [
    "BlobNotFound",
    "BlobQueueFull",
    "BlobStore",
    "BlobStoreError",
    "BlobStoreUnavailable",
    "BlobTooLarge",
    "InvalidBlobKey",
    "LocalBlobStore",
    "QueuedBlobStore",
    "S3BlobStore",
    "build_blob_store",
    "collect",
    "make_blob_key",
    "safe_filename",
    "validate_blob_key",
]
