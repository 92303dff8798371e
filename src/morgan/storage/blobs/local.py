"""Blobs as files in a local folder: the embedded default and the upload spool.

Each blob is written to a temporary file in a private folder, flushed to disk and renamed
into place, so a crash or a rejected upload never leaves half a blob under its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import structlog

from morgan.components import ComponentHealth
from morgan.storage.blobs.base import (
    STREAM_CHUNK_SIZE,
    BlobData,
    BlobNotFound,
    BlobTooLarge,
    InvalidBlobKey,
    validate_blob_key,
)

log = structlog.get_logger(__name__)

TMP_DIR_NAME = ".morgan-tmp"
FILE_MODE = 0o600
DIR_MODE = 0o700


class LocalBlobStore:
    """A folder of files, one per key; keys map to relative paths under `root`."""

    backend = "local"

    def __init__(self, root: Path | str, *, chunk_size: int = STREAM_CHUNK_SIZE) -> None:
        self.root = Path(root).expanduser().absolute()
        self.chunk_size = chunk_size
        self._tmp_dir = self.root / TMP_DIR_NAME

    def path_for(self, key: str) -> Path:
        """The file that holds `key`; refuses keys that would land outside the root."""
        validate_blob_key(key)
        if key.split("/", 1)[0] == TMP_DIR_NAME:
            raise InvalidBlobKey(f"blob key {key!r} uses the reserved folder {TMP_DIR_NAME}")
        path = self.root / key
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise InvalidBlobKey(f"blob key {key!r} resolves outside the store")
        return path

    async def put(
        self,
        key: str,
        data: BlobData,
        *,
        content_type: str | None = None,
        max_bytes: int | None = None,
    ) -> int:
        path = self.path_for(key)
        if isinstance(data, (bytes, bytearray, memoryview)):
            payload = bytes(data)
            if max_bytes is not None and len(payload) > max_bytes:
                raise BlobTooLarge(key, max_bytes)
            return await asyncio.to_thread(self._write_whole, path, payload)

        pending = await asyncio.to_thread(self._open_tmp, path)
        try:
            written = 0
            async for chunk in data:
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise BlobTooLarge(key, max_bytes)
                if chunk:
                    await asyncio.to_thread(pending.write, chunk)
            await asyncio.to_thread(pending.commit)
            return written
        finally:
            # On failure or cancellation: two tiny syscalls, done inline so a cancelled
            # task cannot skip them. A no-op once committed.
            pending.discard()

    async def get(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key) from None

    async def open_stream(self, key: str) -> AsyncIterator[bytes]:
        """Open the file now (a later delete or replace cannot cut the stream short)."""
        path = self.path_for(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key) from None
        return self._iter_file(handle)

    async def _iter_file(self, handle: BinaryIO) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(handle.read, self.chunk_size):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        path = self.path_for(key)
        await asyncio.to_thread(_unlink_file, path)

    async def exists(self, key: str) -> bool:
        path = self.path_for(key)
        return await asyncio.to_thread(path.is_file)

    async def health(self) -> ComponentHealth:
        ok, detail = await asyncio.to_thread(self._check_writable)
        return ComponentHealth(
            name="blobs", backend=self.backend, state="up" if ok else "down", detail=detail
        )

    async def close(self) -> None:
        return None

    # -- blocking helpers, always called through asyncio.to_thread ------------------------

    def _open_tmp(self, target: Path) -> _PendingFile:
        self._tmp_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        return _PendingFile(self._tmp_dir / f"{uuid.uuid4().hex}.part", target)

    def _write_whole(self, target: Path, payload: bytes) -> int:
        pending = self._open_tmp(target)
        try:
            pending.write(payload)
            pending.commit()
        finally:
            pending.discard()
        return len(payload)

    def _check_writable(self) -> tuple[bool, str]:
        try:
            self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            return False, f"{self.root}: {exc}"
        if not os.access(self.root, os.W_OK | os.X_OK):
            return False, f"{self.root} is not writable"
        return True, str(self.root)


class _PendingFile:
    """A private temporary file that becomes `target` on commit, or vanishes on discard.

    The lock matters because a cancelled `to_thread` call keeps running in its thread while
    the task's cleanup already runs `discard`.
    """

    def __init__(self, tmp_path: Path, target: Path) -> None:
        self.tmp_path = tmp_path
        self.target = target
        self._lock = threading.Lock()
        self._fd: int | None = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.fchmod(self._fd, FILE_MODE)
        self._done = False

    def write(self, chunk: bytes) -> None:
        with self._lock:
            if self._fd is None:
                raise OSError(f"{self.tmp_path} is already closed")
            view = memoryview(chunk)
            while view:
                view = view[os.write(self._fd, view) :]

    def commit(self) -> None:
        with self._lock:
            if self._fd is None:
                raise OSError(f"{self.tmp_path} is already closed")
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self.tmp_path, self.target)
            self._done = True

    def discard(self) -> None:
        with self._lock:
            if self._done:
                return
            if self._fd is not None:
                fd, self._fd = self._fd, None
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.tmp_path)
            self._done = True


def _unlink_file(path: Path) -> None:
    try:
        path.unlink()
    except (FileNotFoundError, NotADirectoryError):
        return
    except IsADirectoryError:
        log.warning("blob_delete_directory_ignored", path=str(path))
