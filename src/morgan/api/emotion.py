"""Direct emotion analysis and the user's own emotional trend (decrypted only here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.params import Parameter

from morgan.api import providers
from morgan.auth import CurrentUser
from morgan.emotion import detect_crisis, extract_triggers
from morgan.emotion.base import EmotionDetector
from morgan.emotion.repository import EmotionRepository
from morgan.errors import DependencyUnavailable
from morgan.llm.base import Embedder
from morgan.validation import MAX_ANALYZE_TEXT, check_text


class AnalyzeIn(msgspec.Struct, forbid_unknown_fields=True):
    text: str

    def __post_init__(self) -> None:
        check_text("text", self.text, max_length=MAX_ANALYZE_TEXT, required=True)


class EmotionController(Controller):
    tags = ["emotion"]
    dependencies = {
        "emotion_detector": providers.emotion_detector,
        "embedder": providers.embedder,
        "emotion_repository": providers.emotion_repository,
    }

    @post("/api/emotion/analyze", status_code=200)
    async def analyze(
        self,
        data: AnalyzeIn,
        emotion_detector: EmotionDetector | None,
        embedder: Embedder,
        user: CurrentUser,
    ) -> dict[str, Any]:
        if emotion_detector is None:
            raise DependencyUnavailable("emotion detection is off")
        vector = (await embedder.embed([data.text]))[0]
        result = await emotion_detector.detect(data.text, vector)
        crisis = detect_crisis(data.text)
        return {
            **msgspec.to_builtins(result),
            "triggers": msgspec.to_builtins(extract_triggers(data.text, result)),
            "crisis": msgspec.to_builtins(crisis) if crisis else None,
        }

    @get("/api/emotion/history")
    async def history(
        self,
        emotion_repository: EmotionRepository | None,
        user: CurrentUser,
        days: int = Parameter(default=30, ge=1, le=365),
    ) -> dict[str, Any]:
        repo = emotion_repository
        if repo is None:
            raise DependencyUnavailable("emotion history is off")
        since = datetime.now(UTC) - timedelta(days=days)
        states = await repo.history(user.id, since=since, limit=2000)
        entries = []
        for at, payload in states:
            result = payload.get("result", {}) if isinstance(payload, dict) else {}
            entries.append(
                {
                    "at": at.isoformat(),
                    "label": result.get("label"),
                    "ekman": result.get("ekman"),
                    "intensity": result.get("intensity"),
                    "valence": result.get("valence"),
                }
            )
        patterns = await repo.get_patterns(user.id)
        return {"days": days, "entries": entries, "patterns": msgspec.to_builtins(patterns)}
