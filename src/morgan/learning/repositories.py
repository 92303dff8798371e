"""Storage interfaces for learning, every call scoped by user.

The storage layer implements these (SQLAlchemy); learning logic never sees SQL. Expected
uniqueness: preferences on (user_id, key), patterns on (user_id, kind, key), boosts on
(user_id, document_id), feedback on (user_id, id). `user_id` is a string (UUIDs as text).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from morgan.learning.boosts import Boost
from morgan.learning.feedback import Feedback
from morgan.learning.patterns import Pattern
from morgan.learning.preferences import Preference


@runtime_checkable
class PreferenceRepository(Protocol):
    async def get_preferences(self, user_id: str) -> dict[str, Preference]:
        """key -> preference; empty when the user has none."""
        ...

    async def set_preference(self, user_id: str, preference: Preference) -> None:
        """Insert or replace the preference with the same key."""
        ...

    async def delete_preference(self, user_id: str, key: str) -> None:
        """Remove it; a missing key is not an error."""
        ...


@runtime_checkable
class PatternRepository(Protocol):
    async def get_patterns(self, user_id: str, kinds: Sequence[str] | None = None) -> list[Pattern]:
        """All rows (bookkeeping kinds starting with "_" included) or only `kinds`."""
        ...

    async def upsert_patterns(self, user_id: str, patterns: Sequence[Pattern]) -> None:
        """Insert or replace each row by (kind, key), all in one transaction."""
        ...


@runtime_checkable
class BoostRepository(Protocol):
    async def get_boosts(
        self, user_id: str, document_ids: Sequence[str] | None = None
    ) -> dict[str, Boost]:
        """document_id -> boost, for the given documents or all of the user's."""
        ...

    async def upsert_boosts(self, user_id: str, boosts: Sequence[Boost]) -> None:
        """Insert or replace each boost by document_id, all in one transaction."""
        ...


@runtime_checkable
class FeedbackRepository(Protocol):
    async def add_feedback(self, user_id: str, feedback: Feedback) -> bool:
        """Store it; False (and no change) when this user already has feedback with that id.

        Implement with a unique constraint so concurrent duplicates also return False.
        """
        ...

    async def list_feedback(
        self, user_id: str, answer_id: str | None = None, limit: int = 100
    ) -> list[Feedback]:
        """Newest first (by `at`), optionally for one answer."""
        ...
