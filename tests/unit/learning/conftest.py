"""In-memory learning repositories (test-only) and the factories the contract suite runs.

The SQLAlchemy implementations run the same suite from tests/integration/learning/, whose
conftest provides these fixture names (and `ids`) over real databases.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from morgan.learning import Boost, Feedback, LearningService, Pattern, Preference


class MemoryPreferenceRepository:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Preference] = {}

    async def get_preferences(self, user_id: str) -> dict[str, Preference]:
        return {key: p for (uid, key), p in self.rows.items() if uid == user_id}

    async def set_preference(self, user_id: str, preference: Preference) -> None:
        self.rows[(user_id, preference.key)] = preference

    async def delete_preference(self, user_id: str, key: str) -> None:
        self.rows.pop((user_id, key), None)


class MemoryPatternRepository:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Pattern] = {}
        self.writes = 0

    async def get_patterns(self, user_id: str, kinds: Sequence[str] | None = None) -> list[Pattern]:
        return [
            p for (uid, kind, _), p in self.rows.items()
            if uid == user_id and (kinds is None or kind in kinds)
        ]  # fmt: skip

    async def upsert_patterns(self, user_id: str, patterns: Sequence[Pattern]) -> None:
        self.writes += 1
        for p in patterns:
            self.rows[(user_id, p.kind, p.key)] = p


class MemoryBoostRepository:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Boost] = {}

    async def get_boosts(
        self, user_id: str, document_ids: Sequence[str] | None = None
    ) -> dict[str, Boost]:
        return {
            doc: b for (uid, doc), b in self.rows.items()
            if uid == user_id and (document_ids is None or doc in document_ids)
        }  # fmt: skip

    async def upsert_boosts(self, user_id: str, boosts: Sequence[Boost]) -> None:
        for b in boosts:
            self.rows[(user_id, b.document_id)] = b


class MemoryFeedbackRepository:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Feedback] = {}

    async def add_feedback(self, user_id: str, feedback: Feedback) -> bool:
        if (user_id, feedback.id) in self.rows:
            return False
        self.rows[(user_id, feedback.id)] = feedback
        return True

    async def list_feedback(
        self, user_id: str, answer_id: str | None = None, limit: int = 100
    ) -> list[Feedback]:
        rows = [
            f for (uid, _), f in self.rows.items()
            if uid == user_id and (answer_id is None or f.answer_id == answer_id)
        ]  # fmt: skip
        return sorted(rows, key=lambda f: f.at, reverse=True)[:limit]


# name -> factory per repository interface (in-memory ones; SQL ones: tests/integration/learning/).
REPOSITORY_FACTORIES = {
    "preferences": {"memory": MemoryPreferenceRepository},
    "patterns": {"memory": MemoryPatternRepository},
    "boosts": {"memory": MemoryBoostRepository},
    "feedback": {"memory": MemoryFeedbackRepository},
}


@pytest.fixture(params=sorted(REPOSITORY_FACTORIES["preferences"]))
def preference_repository(request: pytest.FixtureRequest) -> object:
    return REPOSITORY_FACTORIES["preferences"][request.param]()


@pytest.fixture(params=sorted(REPOSITORY_FACTORIES["patterns"]))
def pattern_repository(request: pytest.FixtureRequest) -> object:
    return REPOSITORY_FACTORIES["patterns"][request.param]()


@pytest.fixture(params=sorted(REPOSITORY_FACTORIES["boosts"]))
def boost_repository(request: pytest.FixtureRequest) -> object:
    return REPOSITORY_FACTORIES["boosts"][request.param]()


@pytest.fixture(params=sorted(REPOSITORY_FACTORIES["feedback"]))
def feedback_repository(request: pytest.FixtureRequest) -> object:
    return REPOSITORY_FACTORIES["feedback"][request.param]()


@pytest.fixture
def memory_repos() -> dict[str, object]:
    return {
        "preferences": MemoryPreferenceRepository(),
        "patterns": MemoryPatternRepository(),
        "boosts": MemoryBoostRepository(),
        "feedback": MemoryFeedbackRepository(),
    }


@pytest.fixture
def service(memory_repos: dict[str, object]) -> LearningService:
    return LearningService(
        memory_repos["preferences"],  # type: ignore[arg-type]
        memory_repos["patterns"],  # type: ignore[arg-type]
        memory_repos["boosts"],  # type: ignore[arg-type]
        memory_repos["feedback"],  # type: ignore[arg-type]
    )
