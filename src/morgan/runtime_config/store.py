"""`runtime_settings` rows through SQLAlchemy, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from morgan.storage.db import Database, as_uuid, upsert_insert
from morgan.storage.models import RuntimeSetting


class SqlRuntimeConfigStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> dict[str, tuple[Any, datetime]]:
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(RuntimeSetting.key, RuntimeSetting.value, RuntimeSetting.updated_at)
                )
            ).all()
        return {r.key: (r.value, r.updated_at) for r in rows}

    async def put(self, key: str, value: Any, *, updated_by: Any = None) -> None:
        now = datetime.now(UTC)
        values = {"key": key, "value": value, "updated_by": as_uuid(updated_by), "updated_at": now}
        stmt = upsert_insert(self.db, RuntimeSetting).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[RuntimeSetting.key],
            set_={
                "value": stmt.excluded.value,
                "updated_by": stmt.excluded.updated_by,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        async with self.db.transaction() as session:
            await session.execute(stmt)

    async def remove(self, key: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(delete(RuntimeSetting).where(RuntimeSetting.key == key))
        return bool(result.rowcount)  # type: ignore[attr-defined]
