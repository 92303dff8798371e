"""A durable local queue for the database's writes while it is down (the `database` row of the
failure table in docs/architecture.md).

A chat that cannot reach the database still answers; what it would have written (the new
conversation, the turn, its encrypted emotion) goes here instead: one SQLite file in WAL mode
under `MORGAN_HOME`, fsynced before the answer is sent. `flush()` applies the entries in order
through appliers registered per kind; appliers are idempotent (ids are chosen before queueing),
so an entry applied just before a crash is applied again harmlessly after the restart. An
entry the database refuses for a reason other than being unreachable (the conversation was
deleted meanwhile) moves to the `failed` table with its error: never dropped silently. A full
queue refuses new writes with `WriteQueueFull` (503 + `Retry-After`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import structlog

from morgan.components import ComponentHealth
from morgan.errors import DependencyUnavailable, MorganError, as_morgan_error

log = structlog.get_logger(__name__)

RETRY_AFTER_S = 30


class WriteQueueFull(DependencyUnavailable):
    code, title = "write_queue_full", "The database is down and the local write queue is full"


@dataclass(frozen=True, slots=True)
class _Kind:
    type: type[Any]
    apply: Callable[[Any], Awaitable[None]]
    settled: Callable[[Any], None] | None = None


class Outbox:
    """Entries `(seq, kind, payload)`; payloads are msgspec structs registered per kind."""

    def __init__(
        self, path: Path | str, *, max_entries: int = 10_000, retry_interval_s: float = 2.0
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.path = Path(path)
        self.max_entries = max_entries
        self.retry_interval_s = retry_interval_s
        self._kinds: dict[str, _Kind] = {}
        self._lock = threading.Lock()
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_error: str | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.path.chmod(0o600)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # an acknowledged entry survives power loss
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " kind TEXT NOT NULL, payload BLOB NOT NULL, queued_at REAL NOT NULL)"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS failed (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
            " payload BLOB NOT NULL, queued_at REAL NOT NULL, error TEXT NOT NULL,"
            " failed_at REAL NOT NULL)"
        )
        self._pending = self._count("entries")

    def register(
        self,
        kind: str,
        payload_type: type[Any],
        apply: Callable[[Any], Awaitable[None]],
        settled: Callable[[Any], None] | None = None,
    ) -> None:
        """`apply(payload)` writes one entry to the database; it must be idempotent.
        `settled(payload)` is told when an entry leaves the queue (applied or refused)."""
        self._kinds[kind] = _Kind(payload_type, apply, settled)

    def waiting(self, kind: str) -> list[Any]:
        """The queued payloads of `kind`, oldest first (a new process rebuilds its view)."""
        spec = self._kinds[kind]
        with self._lock:
            rows = self._conn.execute(
                "SELECT payload FROM entries WHERE kind = ? ORDER BY seq", (kind,)
            ).fetchall()
        return [msgspec.json.decode(bytes(r[0]), type=spec.type) for r in rows]

    @property
    def pending(self) -> int:
        return self._pending

    async def append(self, kind: str, payload: msgspec.Struct) -> int:
        """Queue one write durably; returns its sequence number."""
        if kind not in self._kinds:
            raise ValueError(f"no applier registered for {kind!r}")
        if self._pending >= self.max_entries:
            raise WriteQueueFull(
                f"the database is down and {self._pending} writes are already queued locally; "
                f"try again in {RETRY_AFTER_S} s",
                retry_after=RETRY_AFTER_S,
            )
        data = msgspec.json.encode(payload)
        seq = await asyncio.to_thread(self._insert, kind, data)
        self._wake.set()
        log.info("database_write_queued", kind=kind, seq=seq, pending=self._pending)
        return seq

    async def flush(self) -> int:
        """Apply queued entries in order until the queue is empty or the database is still
        down; returns how many were applied."""
        applied = 0
        async with self._flush_lock:
            while True:
                head = await asyncio.to_thread(self._head)
                if head is None:
                    self._last_error = None
                    break
                seq, kind_name, data, _ = head
                kind = self._kinds.get(kind_name)
                payload: Any = None
                try:
                    if kind is None:
                        raise ValueError(f"no applier registered for {kind_name!r}")
                    payload = msgspec.json.decode(data, type=kind.type)
                    await kind.apply(payload)
                except Exception as exc:  # noqa: BLE001 - classified just below
                    if not _refused(exc):
                        # Down, starting up, or anything unclear: keep it, in order, and
                        # retry later; only a definite refusal moves an entry aside.
                        mapped = as_morgan_error(exc)
                        self._last_error = str(mapped.detail) if mapped else _short(exc)
                        break
                    log.error("database_write_refused", kind=kind_name, seq=seq, error=_short(exc))
                    await asyncio.to_thread(self._fail, seq, _short(exc))
                    _settle(kind, payload)
                    continue
                await asyncio.to_thread(self._delete, seq)
                _settle(kind, payload)
                applied += 1
        if applied:
            log.info("database_writes_flushed", applied=applied, pending=self._pending)
        return applied

    # -- background flushing -----------------------------------------------------------

    def start(self) -> None:
        """Flush now and whenever entries wait, every `retry_interval_s` until the database
        takes them (also the entries a previous process left)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-flush")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with self._lock:
            self._conn.close()

    async def _run(self) -> None:
        while True:
            if self._pending:
                try:
                    await self.flush()
                except Exception as exc:  # noqa: BLE001 - the loop must outlive any one failure
                    log.warning("outbox_flush_failed", error=_short(exc))
            self._wake.clear()
            if self._pending:
                await asyncio.sleep(self.retry_interval_s)  # back-off between retries
            else:
                await self._wake.wait()

    # -- status -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            oldest = self._conn.execute("SELECT MIN(queued_at) FROM entries").fetchone()[0]
            failed = self._conn.execute("SELECT COUNT(*) FROM failed").fetchone()[0]
        return {
            "pending": self._pending,
            "max": self.max_entries,
            "oldest_age_s": round(time.time() - oldest, 1) if oldest else None,
            "failed": int(failed),
            "last_error": self._last_error,
        }

    async def health(self) -> ComponentHealth:
        s = self.status()
        parts = []
        if s["pending"]:
            parts.append(f"{s['pending']} writes queued for the database")
        if s["failed"]:
            parts.append(f"{s['failed']} refused by the database")
        return ComponentHealth(
            "write_queue", "sqlite", "degraded" if parts else "up", "; ".join(parts)
        )

    def failed_entries(self) -> list[tuple[int, str, str]]:
        """(seq, kind, error) of the entries the database refused, for `morgan doctor`."""
        with self._lock:
            rows = self._conn.execute("SELECT seq, kind, error FROM failed ORDER BY seq").fetchall()
        return [(int(s), str(k), str(e)) for s, k, e in rows]

    # -- sqlite (called in a worker thread) -------------------------------------------

    def _count(self, table: str) -> int:
        with self._lock:
            return int(self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608

    def _insert(self, kind: str, data: bytes) -> int:
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO entries (kind, payload, queued_at) VALUES (?, ?, ?)",
                (kind, data, time.time()),
            )
            self._pending += 1
            return int(cur.lastrowid or 0)

    def _head(self) -> tuple[int, str, bytes, float] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT seq, kind, payload, queued_at FROM entries ORDER BY seq LIMIT 1"
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]), float(row[3]))

    def _delete(self, seq: int) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM entries WHERE seq = ?", (seq,))
            self._pending = max(0, self._pending - 1)

    def _fail(self, seq: int, error: str) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "INSERT OR REPLACE INTO failed SELECT seq, kind, payload, queued_at, ?, ?"
                " FROM entries WHERE seq = ?",
                (error, time.time(), seq),
            )
            self._conn.execute("DELETE FROM entries WHERE seq = ?", (seq,))
            self._conn.execute("COMMIT")
            self._pending = max(0, self._pending - 1)


def _settle(kind: _Kind | None, payload: Any) -> None:
    if kind is not None and kind.settled is not None and payload is not None:
        kind.settled(payload)


def _refused(exc: BaseException) -> bool:
    """The database answered and will never take this entry (a constraint, a bad value),
    or the entry cannot be read: retrying cannot help."""
    from sqlalchemy import exc as sa

    if isinstance(exc, MorganError) and 400 <= exc.status_code < 500:
        return True  # e.g. the rated answer or the conversation is gone by now
    return isinstance(
        exc, sa.IntegrityError | sa.DataError | msgspec.DecodeError | msgspec.ValidationError
    ) or (isinstance(exc, ValueError) and "no applier registered" in str(exc))


def _short(exc: BaseException) -> str:
    # Type and a bounded message only: database errors can carry user text otherwise.
    return f"{type(exc).__name__}: {str(exc)[:160]}"
