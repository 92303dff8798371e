"""The blob-store interface, its errors, and the key rules every backend shares.

Keys look like relative POSIX paths (`user/2026-01-31/uuid_name.pdf`). The rules are the
same for every backend so a key accepted by the local folder store is also a valid S3 key,
and no key can climb out of the store's root.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from morgan.components import ComponentHealth

MAX_KEY_LENGTH = 1024
MAX_FILENAME_LENGTH = 120
MAX_EXTENSION_LENGTH = 16
STREAM_CHUNK_SIZE = 1024 * 1024

BlobData = bytes | AsyncIterator[bytes]


class BlobStoreError(Exception):
    """Base class for blob-store failures."""


class BlobNotFound(BlobStoreError, KeyError):
    """No blob under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"blob not found: {self.key!r}"


class BlobTooLarge(BlobStoreError):
    """The data exceeded `max_bytes`; nothing was stored."""

    def __init__(self, key: str, max_bytes: int) -> None:
        super().__init__(f"blob {key!r} exceeds {max_bytes} bytes")
        self.key = key
        self.max_bytes = max_bytes


class BlobStoreUnavailable(BlobStoreError):
    """The backend cannot be reached; retrying later may succeed."""


class BlobQueueFull(BlobStoreError):
    """The object store is down and the on-disk upload queue is full; nothing was stored."""


class InvalidBlobKey(BlobStoreError, ValueError):
    """The key breaks the key rules (traversal, absolute path, backslash, empty segment)."""


@runtime_checkable
class BlobStore(Protocol):
    """Stores original files by key. Writes are all-or-nothing; `delete` is idempotent."""

    backend: str

    async def put(
        self,
        key: str,
        data: BlobData,
        *,
        content_type: str | None = None,
        max_bytes: int | None = None,
    ) -> int:
        """Store `data` under `key` (replacing any old blob) and return the bytes written."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def open_stream(self, key: str) -> AsyncIterator[bytes]:
        """Raise `BlobNotFound` now, or return an iterator over the blob's chunks."""
        ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    async def health(self) -> ComponentHealth: ...

    async def close(self) -> None: ...


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_blob_key(key: str) -> str:
    """Return `key` unchanged if it is a safe relative key, else raise `InvalidBlobKey`."""
    if not isinstance(key, str) or not key:
        raise InvalidBlobKey("blob key must be a non-empty string")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_LENGTH:
        raise InvalidBlobKey(f"blob key longer than {MAX_KEY_LENGTH} bytes")
    if "\\" in key:
        raise InvalidBlobKey(f"backslash in blob key {key!r}")
    if _CONTROL.search(key):
        raise InvalidBlobKey(f"control character in blob key {key!r}")
    if key.startswith("/") or re.match(r"^[A-Za-z]:", key):
        raise InvalidBlobKey(f"absolute blob key {key!r}")
    for segment in key.split("/"):
        if segment == "":
            raise InvalidBlobKey(f"empty path segment in blob key {key!r}")
        if segment in (".", ".."):
            raise InvalidBlobKey(f"relative segment {segment!r} in blob key {key!r}")
    return key


_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(filename: str, *, max_length: int = MAX_FILENAME_LENGTH) -> str:
    """A file name reduced to `[A-Za-z0-9._-]`, without directories, never empty or hidden."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, extension = base.rpartition(".")
    if not dot or not stem.strip(". ") or len(extension) > MAX_EXTENSION_LENGTH:
        stem, extension = base, ""
    stem = _ascii_safe(stem) or "file"
    extension = _ascii_safe(extension)
    suffix = f".{extension}" if extension else ""
    stem = stem[: max(1, max_length - len(suffix))].rstrip("._-") or "file"
    return f"{stem}{suffix}"


def _ascii_safe(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE_CHARS.sub("_", ascii_text)
    return re.sub(r"\.{2,}", ".", cleaned).strip("._-")


def make_blob_key(user_id: object, filename: str, now: datetime | None = None) -> str:
    """`{user}/{YYYY-MM-DD}/{uuid}_{safe_filename}`: unique, dated, and safe on any backend."""
    user = _UNSAFE_CHARS.sub("_", str(user_id)).strip("._-")
    if not user:
        raise InvalidBlobKey(f"user id {user_id!r} gives an empty key segment")
    moment = now or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    key = f"{user[:64]}/{moment.date().isoformat()}/{uuid.uuid4().hex}_{safe_filename(filename)}"
    return validate_blob_key(key)


async def collect(stream: AsyncIterator[bytes]) -> bytes:
    """Read a whole chunk stream into memory."""
    parts = [chunk async for chunk in stream]
    return b"".join(parts)
