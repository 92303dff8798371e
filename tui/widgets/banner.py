"""The degraded-state banner: what is running on a fallback and what that means for answers."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Static

MEANING = {
    "llm": "the language model fell back",
    "embeddings": "keyword search only",
    "reranker": "results are not reranked",
    "cache": "cache down, using the database",
    "vectors": "vector search is down",
    "emotion": "emotion detection is off",
    "learning": "feedback is not learned from",
    "blobs": "file storage is down",
    "database": "the database is failing",
}


def banner_text(degraded: Iterable[str]) -> str:
    parts = [f"{name} ({MEANING[name]})" if name in MEANING else name for name in degraded]
    return f"⚠ Degraded: {'; '.join(parts)}" if parts else ""


class DegradedBanner(Static):
    """Hidden while everything is up; one line (wrapping if it must) when something is not."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.degraded: list[str] = []
        self.display = False

    def show(self, degraded: Iterable[str]) -> None:
        self.degraded = list(dict.fromkeys(degraded))
        self.update(banner_text(self.degraded))
        self.display = bool(self.degraded)

    @property
    def plain(self) -> str:
        return banner_text(self.degraded)
