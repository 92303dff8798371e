"""Keeps uploads flowing while the object store is down (the `blobs` row of the failure table).

Uploads that cannot reach the primary store are written to a bounded spool folder and
retried by `flush()` or the background loop; reads look in the spool first, so a queued
file is readable at once. When the spool is full, `put` raises `BlobQueueFull`: an upload
is either stored, queued on disk, or refused — never dropped. The spool survives restarts.

A streamed upload is always spooled before it goes to the primary, so a connection that
breaks half-way through costs a retry, not the file. Whole `bytes` go straight up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import msgspec
import structlog

from morgan.components import ComponentHealth
from morgan.storage.blobs.base import (
    BlobData,
    BlobNotFound,
    BlobQueueFull,
    BlobStore,
    BlobStoreError,
    BlobStoreUnavailable,
    BlobTooLarge,
    validate_blob_key,
)
from morgan.storage.blobs.local import LocalBlobStore

log = structlog.get_logger(__name__)

_LOCK_STRIPES = 64


class SpoolEntry(msgspec.Struct, frozen=True):
    """One queued operation; `seq` orders them and names its files in the spool."""

    seq: int
    op: Literal["put", "delete"]
    key: str
    content_type: str | None = None
    size: int = 0

    @property
    def data_name(self) -> str:
        return f"{self.seq:016d}.data"

    @property
    def meta_name(self) -> str:
        return f"{self.seq:016d}.meta"


class QueuedBlobStore:
    """A `BlobStore` that falls back to a bounded on-disk queue when `primary` is down."""

    def __init__(
        self,
        primary: BlobStore,
        spool_dir: Path | str,
        max_items: int = 1000,
        *,
        retry_interval_s: float = 5.0,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.primary = primary
        self.backend = primary.backend
        self.max_items = max_items
        self.retry_interval_s = retry_interval_s
        self._spool = LocalBlobStore(spool_dir)
        self._pending: dict[str, SpoolEntry] = {}
        self._next_seq = 1
        self._loaded = False
        self._load_lock = asyncio.Lock()
        self._flush_lock = asyncio.Lock()
        self._key_locks = [asyncio.Lock() for _ in range(_LOCK_STRIPES)]
        self._primary_down: str | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # -- BlobStore ------------------------------------------------------------------------

    async def put(
        self,
        key: str,
        data: BlobData,
        *,
        content_type: str | None = None,
        max_bytes: int | None = None,
    ) -> int:
        validate_blob_key(key)
        await self._ensure_loaded()
        async with self._lock_for(key):
            if isinstance(data, (bytes, bytearray, memoryview)):
                payload = bytes(data)
                if max_bytes is not None and len(payload) > max_bytes:
                    raise BlobTooLarge(key, max_bytes)
                if self._primary_down is None:
                    try:
                        written = await self.primary.put(key, payload, content_type=content_type)
                    except BlobStoreUnavailable as exc:
                        self._mark_down(exc)
                    else:
                        await self._forget(key)
                        return written
                entry = await self._enqueue(key, payload, content_type, None)
                self._log_queued(entry)
                return entry.size

            entry = await self._enqueue(key, data, content_type, max_bytes)
            if self._primary_down is None:
                try:
                    await self._send(entry)
                    return entry.size
                except BlobStoreUnavailable as exc:
                    self._mark_down(exc)
                except BlobStoreError:
                    await self._forget(key)  # refused for good: report it, do not retry
                    raise
            self._log_queued(entry)
            return entry.size

    async def get(self, key: str) -> bytes:
        validate_blob_key(key)
        await self._ensure_loaded()
        entry = self._pending.get(key)
        if entry is not None:
            if entry.op == "delete":
                raise BlobNotFound(key)
            with contextlib.suppress(BlobNotFound):  # flushed meanwhile: read the primary
                return await self._spool.get(entry.data_name)
        return await self.primary.get(key)

    async def open_stream(self, key: str) -> AsyncIterator[bytes]:
        validate_blob_key(key)
        await self._ensure_loaded()
        entry = self._pending.get(key)
        if entry is not None:
            if entry.op == "delete":
                raise BlobNotFound(key)
            with contextlib.suppress(BlobNotFound):
                return await self._spool.open_stream(entry.data_name)
        return await self.primary.open_stream(key)

    async def exists(self, key: str) -> bool:
        validate_blob_key(key)
        await self._ensure_loaded()
        entry = self._pending.get(key)
        if entry is not None:
            return entry.op == "put"
        return await self.primary.exists(key)

    async def delete(self, key: str) -> None:
        validate_blob_key(key)
        await self._ensure_loaded()
        async with self._lock_for(key):
            if self._primary_down is None:
                try:
                    await self.primary.delete(key)
                except BlobStoreUnavailable as exc:
                    self._mark_down(exc)
                else:
                    await self._forget(key)
                    return
            await self._enqueue_delete(key)

    async def health(self) -> ComponentHealth:
        await self._ensure_loaded()
        inner = await self.primary.health()
        queued = len(self._pending)
        primary = f"{self.primary.backend} {inner.state}: {inner.detail}"
        if queued >= self.max_items:
            state, detail = "down", f"upload queue full ({queued}/{self.max_items}); {primary}"
        elif queued:
            state, detail = "degraded", f"{queued} upload(s) queued on disk; {primary}"
        elif inner.state != "up":
            state, detail = "degraded", f"uploads will be queued on disk; {primary}"
        else:
            state, detail = "up", inner.detail
        return ComponentHealth(name="blobs", backend=self.backend, state=state, detail=detail)  # type: ignore[arg-type]

    async def close(self) -> None:
        await self.stop()
        await self.primary.close()
        await self._spool.close()

    # -- retrying ------------------------------------------------------------------------

    async def flush(self) -> int:
        """Send queued operations to the primary, oldest first; returns how many succeeded.

        Stops at the first `BlobStoreUnavailable` (the store is still down); an operation the
        store refuses for another reason stays queued and is logged.
        """
        await self._ensure_loaded()
        async with self._flush_lock:
            idle_but_marked_down = not self._pending and self._primary_down is not None
            if idle_but_marked_down and (await self.primary.health()).state == "up":
                self._mark_up()
            sent = 0
            for entry in sorted(self._pending.values(), key=lambda item: item.seq):
                async with self._lock_for(entry.key):
                    if self._pending.get(entry.key) != entry:
                        continue  # replaced or sent by a newer operation meanwhile
                    try:
                        await self._send(entry)
                    except BlobStoreUnavailable as exc:
                        self._mark_down(exc)
                        break
                    except BlobStoreError as exc:
                        log.error("blob_flush_refused", key=entry.key, op=entry.op, error=str(exc))
                        continue
                    sent += 1
            if sent:
                log.info("blob_queue_flushed", sent=sent, still_queued=len(self._pending))
            return sent

    async def start(self) -> None:
        """Load the spool and start retrying in the background every `retry_interval_s`."""
        await self._ensure_loaded()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._retry_loop(), name="blob-queue-retry")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def drained(self) -> None:
        """Wait until nothing is queued."""
        await self._drained.wait()

    async def _retry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval_s)
            if not self._pending and self._primary_down is None:
                continue
            try:
                await self.flush()
            except Exception:
                log.exception("blob_queue_retry_failed")

    # -- internals -----------------------------------------------------------------------

    def _lock_for(self, key: str) -> asyncio.Lock:
        return self._key_locks[hash(key) % _LOCK_STRIPES]

    def _mark_down(self, exc: BaseException) -> None:
        if self._primary_down is None:
            log.warning("blob_store_down_queueing", backend=self.primary.backend, error=str(exc))
        self._primary_down = str(exc)

    def _mark_up(self) -> None:
        if self._primary_down is not None:
            log.info("blob_store_back", backend=self.primary.backend)
        self._primary_down = None

    def _reserve(self, key: str) -> int:
        if key not in self._pending and len(self._pending) >= self.max_items:
            raise BlobQueueFull(
                f"object store down and {len(self._pending)} uploads already queued; "
                f"{key!r} was not stored"
            )
        seq = self._next_seq
        self._next_seq += 1
        return seq

    async def _enqueue(
        self, key: str, data: BlobData, content_type: str | None, max_bytes: int | None
    ) -> SpoolEntry:
        seq = self._reserve(key)
        probe = SpoolEntry(seq=seq, op="put", key=key)
        size = await self._spool.put(probe.data_name, data, max_bytes=max_bytes)
        entry = SpoolEntry(seq=seq, op="put", key=key, content_type=content_type, size=size)
        await self._commit(entry)
        return entry

    async def _enqueue_delete(self, key: str) -> None:
        entry = SpoolEntry(seq=self._reserve(key), op="delete", key=key)
        await self._commit(entry)
        self._log_queued(entry)

    def _log_queued(self, entry: SpoolEntry) -> None:
        log.warning("blob_operation_queued", key=entry.key, op=entry.op, queued=len(self._pending))

    async def _commit(self, entry: SpoolEntry) -> None:
        """Write the entry's metadata (its data is already on disk) and make it current."""
        try:
            await self._spool.put(entry.meta_name, msgspec.json.encode(entry))
        except BaseException:
            await self._spool.delete(entry.data_name)
            raise
        replaced = self._pending.pop(entry.key, None)
        self._pending[entry.key] = entry
        self._drained.clear()
        if replaced is not None:
            await self._remove_files(replaced)

    async def _send(self, entry: SpoolEntry) -> None:
        """Apply one queued operation to the primary, then drop it from the spool."""
        if entry.op == "put":
            stream = await self._spool.open_stream(entry.data_name)
            async with contextlib.aclosing(stream):  # type: ignore[type-var]
                await self.primary.put(entry.key, stream, content_type=entry.content_type)
        else:
            await self.primary.delete(entry.key)
        self._mark_up()
        if self._pending.get(entry.key) == entry:
            del self._pending[entry.key]
            await self._remove_files(entry)
            if not self._pending:
                self._drained.set()

    async def _forget(self, key: str) -> None:
        """Drop a queued operation the primary has just superseded."""
        entry = self._pending.pop(key, None)
        if entry is not None:
            await self._remove_files(entry)
        if not self._pending:
            self._drained.set()

    async def _remove_files(self, entry: SpoolEntry) -> None:
        await self._spool.delete(entry.meta_name)
        await self._spool.delete(entry.data_name)

    async def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        async with self._load_lock:
            if self._loaded:
                return
            entries = await asyncio.to_thread(self._scan_spool)
            for entry in entries:
                replaced = self._pending.pop(entry.key, None)
                if replaced is not None:
                    await self._remove_files(replaced)
                self._pending[entry.key] = entry
                self._next_seq = max(self._next_seq, entry.seq + 1)
            if self._pending:
                self._drained.clear()
                log.warning("blob_queue_restored", queued=len(self._pending))
            self._loaded = True

    def _scan_spool(self) -> list[SpoolEntry]:
        """Read the spool after a restart; half-written items (data without meta) go."""
        root = self._spool.root
        if not root.is_dir():
            return []
        entries: list[SpoolEntry] = []
        names = {item.name for item in os.scandir(root) if item.is_file()}
        for name in sorted(names):
            stem, _, suffix = name.partition(".")
            if suffix == "data" and f"{stem}.meta" not in names:
                os.unlink(root / name)
            elif suffix == "meta":
                try:
                    entry = msgspec.json.decode((root / name).read_bytes(), type=SpoolEntry)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    log.error("blob_queue_entry_unreadable", file=name, error=str(exc))
                    os.replace(root / name, root / f"{name}.unreadable")
                    continue
                if entry.op == "put" and entry.data_name not in names:
                    log.error("blob_queue_data_missing", key=entry.key, file=name)
                    os.unlink(root / name)
                    continue
                entries.append(entry)
        return sorted(entries, key=lambda item: item.seq)
