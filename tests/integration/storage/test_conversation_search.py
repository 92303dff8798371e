"""Conversation search (`GET /api/conversations?q=`, the TUI's search box) on both databases:
title or any message, any case, LIKE wildcards literal, one user's conversations only."""

from __future__ import annotations

import uuid

import pytest

from morgan.chat.conversations import ConversationRepository, TurnRecord
from morgan.storage.db import Database
from morgan.storage.models import User


async def _user(db: Database, name: str) -> uuid.UUID:
    user = uuid.uuid4()
    async with db.transaction() as s:
        s.add(User(id=user, name=name))
    return user


@pytest.fixture
async def repo(db: Database) -> ConversationRepository:
    return ConversationRepository(db)


async def _conversation(
    repo: ConversationRepository, user: uuid.UUID, title: str, question: str, answer: str
) -> str:
    conv = await repo.create(user, title)
    await repo.record_turn(user, conv.id, TurnRecord(user_text=question, assistant_text=answer))
    return conv.title


async def _titles(repo: ConversationRepository, user: uuid.UUID, search: str | None) -> set[str]:
    return {c.title for c, _ in await repo.list(user, search=search)}


async def test_search_matches_titles_and_messages_in_any_case(
    db: Database, repo: ConversationRepository
) -> None:
    ann, bob = await _user(db, "ann"), await _user(db, "bob")
    await _conversation(repo, ann, "Tomatoes", "how often to water?", "Twice a week [1].")
    await _conversation(repo, ann, "Roses", "aphids again", "Use SOAPY water [1].")
    await _conversation(repo, ann, "Budget 100% done", "is it?", "Yes.")
    await _conversation(repo, bob, "Bob's tomatoes", "mine too", "Soapy water works.")

    assert await _titles(repo, ann, None) == {"Tomatoes", "Roses", "Budget 100% done"}
    assert await _titles(repo, ann, "  ") == {"Tomatoes", "Roses", "Budget 100% done"}
    assert await _titles(repo, ann, "tomatoes") == {"Tomatoes"}  # title; never bob's
    assert await _titles(repo, ann, "soapy") == {"Roses"}  # an answer's text
    assert await _titles(repo, ann, "WATER") == {"Tomatoes", "Roses"}
    assert await _titles(repo, ann, "%") == {"Budget 100% done"}  # a literal percent sign
    assert await _titles(repo, ann, "_") == set()
    assert await _titles(repo, ann, "nothing like this") == set()


async def test_search_skips_deleted_conversations(
    db: Database, repo: ConversationRepository
) -> None:
    ann = await _user(db, "ann")
    conv = await repo.create(ann, "Old garden plan")
    await repo.soft_delete(ann, conv.id)
    assert await _titles(repo, ann, "garden") == set()
