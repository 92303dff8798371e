"""The durable local write queue: in order, idempotent replays, nothing dropped, bounded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from morgan.storage.outbox import Outbox, WriteQueueFull


class Note(msgspec.Struct):
    n: int
    blob: bytes = b""


class Database:
    """A stand-in for the database the appliers write to: up or down, refusing some ids."""

    def __init__(self) -> None:
        self.up = False
        self.rows: list[int] = []
        self.refuse: set[int] = set()

    async def apply(self, note: Note) -> None:
        if not self.up:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
        if note.n in self.refuse:
            raise IntegrityError("INSERT", {}, Exception("violates foreign key constraint"))
        if note.n not in self.rows:  # idempotent, as the real appliers are
            self.rows.append(note.n)


def _outbox(path: Path, db: Database, **kw: object) -> Outbox:
    box = Outbox(path, **kw)  # type: ignore[arg-type]
    box.register("note", Note, db.apply)
    return box


async def test_entries_wait_while_down_and_apply_in_order_when_back(tmp_path: Path) -> None:
    db = Database()
    box = _outbox(tmp_path / "q.sqlite3", db)
    for n in range(5):
        await box.append("note", Note(n, blob=bytes([n, 0, 255])))
    assert await box.flush() == 0 and box.pending == 5
    assert box.status()["last_error"]
    db.up = True
    assert await box.flush() == 5
    assert db.rows == [0, 1, 2, 3, 4] and box.pending == 0
    assert box.status()["last_error"] is None
    await box.close()


async def test_a_refused_entry_moves_to_failed_and_the_rest_go_on(tmp_path: Path) -> None:
    db = Database()
    db.up, db.refuse = True, {1}
    box = _outbox(tmp_path / "q.sqlite3", db)
    db.up = False
    for n in range(3):
        await box.append("note", Note(n))
    db.up = True
    assert await box.flush() == 2
    assert db.rows == [0, 2]
    assert [(seq, kind) for seq, kind, _ in box.failed_entries()] == [(2, "note")]
    assert "IntegrityError" in box.failed_entries()[0][2]
    health = await box.health()
    assert health.state == "degraded" and "refused" in (health.detail or "")
    await box.close()


async def test_entries_survive_a_reopen_and_apply_once(tmp_path: Path) -> None:
    db = Database()
    box = _outbox(tmp_path / "q.sqlite3", db)
    await box.append("note", Note(7))
    await box.close()
    again = _outbox(tmp_path / "q.sqlite3", db)
    assert again.pending == 1
    db.up = True
    await again.flush()
    await again.flush()
    assert db.rows == [7]
    await again.close()


async def test_a_full_queue_refuses_with_503_and_keeps_what_it_has(tmp_path: Path) -> None:
    db = Database()
    box = _outbox(tmp_path / "q.sqlite3", db, max_entries=2)
    await box.append("note", Note(1))
    await box.append("note", Note(2))
    with pytest.raises(WriteQueueFull) as refused:
        await box.append("note", Note(3))
    assert refused.value.status_code == 503 and refused.value.extra["retry_after"] > 0
    db.up = True
    await box.flush()
    assert db.rows == [1, 2]
    await box.close()


async def test_an_unregistered_kind_is_refused_before_queueing(tmp_path: Path) -> None:
    box = _outbox(tmp_path / "q.sqlite3", Database())
    with pytest.raises(ValueError, match="no applier"):
        await box.append("other", Note(1))
    assert box.pending == 0
    await box.close()


async def test_the_file_is_private(tmp_path: Path) -> None:
    box = _outbox(tmp_path / "q.sqlite3", Database())
    assert (tmp_path / "q.sqlite3").stat().st_mode & 0o077 == 0
    await box.close()


async def test_an_acknowledged_entry_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    script = f"""
import asyncio, os, signal, msgspec
from morgan.storage.outbox import Outbox
class Note(msgspec.Struct):
    n: int
    blob: bytes = b""
async def main():
    box = Outbox({str(path)!r})
    async def apply(note): raise AssertionError
    box.register("note", Note, apply)
    for n in range(3):
        await box.append("note", Note(n))
    print("acknowledged", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -9 and "acknowledged" in done.stdout, done.stderr
    db = Database()
    db.up = True
    box = _outbox(path, db)
    assert box.pending == 3
    await box.flush()
    assert db.rows == [0, 1, 2]
    await box.close()


async def test_an_unclear_failure_keeps_the_entry_for_a_retry(tmp_path: Path) -> None:
    """Only a definite refusal moves an entry aside; "starting up" and the unknown wait."""
    calls: list[int] = []

    async def starting_up(note: Note) -> None:
        calls.append(note.n)
        raise RuntimeError("the database system is starting up")

    box = Outbox(tmp_path / "q.sqlite3")
    box.register("note", Note, starting_up)
    await box.append("note", Note(1))
    await box.append("note", Note(2))
    assert await box.flush() == 0
    assert calls == [1] and box.pending == 2 and box.failed_entries() == []
    assert "starting up" in (box.status()["last_error"] or "")
    await box.close()


def test_postgres_starting_or_stopping_is_database_unavailable() -> None:
    from sqlalchemy.exc import DBAPIError

    from morgan.errors import database_down

    class CannotConnectNow(Exception):
        sqlstate = "57P03"

    class Unique(Exception):
        sqlstate = "23505"

    wrapped = DBAPIError("SELECT 1", {}, CannotConnectNow("the database system is starting up"))
    assert database_down(wrapped) and database_down(CannotConnectNow())
    assert not database_down(Unique()) and not database_down(ValueError("x"))
    assert not database_down(DBAPIError("INSERT", {}, Unique("duplicate key")))
