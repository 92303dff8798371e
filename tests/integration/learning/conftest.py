"""The learning repositories over real databases (SQLite and PostgreSQL, via `db_url`).

`ids` maps the contract suite's logical names to real rows: each logical user gets a
`users` row, one conversation, and its own answers ("a1"...) and documents ("d1"...), created
on first use, so "d1" of u1 and "d1" of u2 are different documents, as they would be.
"""

from __future__ import annotations

import uuid

import pytest

from morgan.learning.sql import (
    SqlBoostRepository,
    SqlFeedbackRepository,
    SqlPatternRepository,
    SqlPreferenceRepository,
)
from morgan.storage.db import Database
from morgan.storage.models import Conversation, Document, Message, User


class RowIds:
    """Logical names -> UUID strings of rows created on demand (`await ids.provision(...)`)
    or in advance by `provision_defaults`, so the suite's sync lookups find them."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._users: dict[str, uuid.UUID] = {}
        self._conversations: dict[str, uuid.UUID] = {}
        self._answers: dict[tuple[str, str], uuid.UUID] = {}
        self._documents: dict[tuple[str, str], uuid.UUID] = {}

    def user(self, name: str) -> str:
        return str(self._users[name])

    def answer(self, user: str, name: str) -> str:
        return str(self._answers[(user, name)])

    def document(self, user: str, name: str) -> str:
        return str(self._documents[(user, name)])

    def unknown(self) -> str:
        return str(uuid.uuid4())

    async def provision(
        self, user: str, answers: tuple[str, ...] = (), documents: tuple[str, ...] = ()
    ) -> None:
        async with self._db.transaction() as session:
            if user not in self._users:
                row = User(id=uuid.uuid4(), name=f"{user}-{uuid.uuid4().hex[:8]}")
                conversation = Conversation(id=uuid.uuid4(), user_id=row.id)
                session.add(row)
                await session.flush()
                session.add(conversation)
                self._users[user] = row.id
                self._conversations[user] = conversation.id
            await session.flush()
            for name in answers:
                if (user, name) in self._answers:
                    continue
                message = Message(
                    id=uuid.uuid4(), conversation_id=self._conversations[user],
                    user_id=self._users[user], role="assistant", content=f"answer {name}",
                )  # fmt: skip
                session.add(message)
                self._answers[(user, name)] = message.id
            for name in documents:
                if (user, name) in self._documents:
                    continue
                document = Document(
                    id=uuid.uuid4(), user_id=self._users[user], source=f"{name}.txt",
                    filename=f"{name}.txt", content_hash=uuid.uuid4().hex, blob_key=name,
                )  # fmt: skip
                session.add(document)
                self._documents[(user, name)] = document.id

    async def provision_defaults(self) -> None:
        """Everything the contract suite names: users u1..u3, answers a1..a3, documents d1..d3."""
        names = ("1", "2", "3")
        for user in (f"u{n}" for n in names):
            await self.provision(
                user, answers=tuple(f"a{n}" for n in names), documents=tuple(f"d{n}" for n in names)
            )


@pytest.fixture
async def ids(db: Database) -> RowIds:
    rows = RowIds(db)
    await rows.provision_defaults()
    return rows


@pytest.fixture
def preference_repository(db: Database) -> SqlPreferenceRepository:
    return SqlPreferenceRepository(db)


@pytest.fixture
def pattern_repository(db: Database) -> SqlPatternRepository:
    return SqlPatternRepository(db)


@pytest.fixture
def boost_repository(db: Database) -> SqlBoostRepository:
    return SqlBoostRepository(db)


@pytest.fixture
def feedback_repository(db: Database) -> SqlFeedbackRepository:
    return SqlFeedbackRepository(db)
