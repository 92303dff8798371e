"""Pick a blob store from one settings URL (`MORGAN_BLOB_URL`)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from morgan.storage.blobs.base import BlobStore
from morgan.storage.blobs.local import LocalBlobStore
from morgan.storage.blobs.s3 import S3BlobStore

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def build_blob_store(url: str) -> BlobStore:
    """`file:///abs/path` or `s3://[KEY:SECRET@]bucket?endpoint=URL&region=R&create_bucket=1`.

    S3 credentials come from the URL's userinfo, else `AWS_ACCESS_KEY_ID` /
    `AWS_SECRET_ACCESS_KEY`, else botocore's usual chain (instance role, profile).
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query:
            raise ValueError(f"blob URL {url!r}: use file:///absolute/path")
        path = Path(unquote(parts.path))
        if not path.is_absolute():
            raise ValueError(f"blob URL {url!r}: the path must be absolute")
        return LocalBlobStore(path)

    if parts.scheme == "s3":
        bucket = parts.hostname
        if not bucket or parts.path not in ("", "/"):
            raise ValueError(f"blob URL {url!r}: expected s3://bucket?endpoint=...")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint", "region", "create_bucket"}
        if unknown:
            raise ValueError(f"blob URL {url!r}: unknown option(s) {sorted(unknown)}")
        access_key = unquote(parts.username) if parts.username else None
        secret_key = unquote(parts.password) if parts.password else None
        if access_key is None:
            access_key = os.environ.get("AWS_ACCESS_KEY_ID")
            secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY")
        return S3BlobStore(
            bucket,
            endpoint_url=query.get("endpoint"),
            region=query.get("region") or os.environ.get("AWS_REGION") or "us-east-1",
            access_key=access_key,
            secret_key=secret_key,
            create_bucket=_flag(query.get("create_bucket", "true"), url),
        )

    raise ValueError(f"blob URL {url!r}: scheme must be file:// or s3://")


def _flag(value: str, url: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"blob URL {url!r}: create_bucket must be true or false")
