"""Every runtime setting Morgan knows: its type, bounds and what it changes."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from morgan.errors import BadRequest


@dataclass(frozen=True, slots=True)
class KeySpec:
    key: str
    kind: type
    help: str
    check: Callable[[Any], str | None] = lambda _v: None
    """Returns why a (typed) value is refused, or None when it is fine."""
    needs_models: bool = False
    """The value must name a model that exists on the configured LLM backend."""

    def parse(self, raw: Any) -> Any:
        """A typed value from JSON or command-line text; BadRequest says what was expected."""
        value = raw
        try:
            if self.kind is float and isinstance(raw, str | int) and not isinstance(raw, bool):
                value = float(raw)
            elif self.kind is int and isinstance(raw, str):
                value = int(raw.strip())
            elif self.kind is str and isinstance(raw, str):
                value = raw.strip()
        except ValueError:
            raise BadRequest(f"{self.key} must be {_kind_name(self.kind)}, not {raw!r}") from None
        if not isinstance(value, self.kind) or isinstance(value, bool):
            raise BadRequest(f"{self.key} must be {_kind_name(self.kind)}, not {raw!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise BadRequest(f"{self.key} must be a finite number")
        why = self.check(value)
        if why:
            raise BadRequest(f"{self.key} {why}")
        return value


def _kind_name(kind: type) -> str:
    return {float: "a number", int: "a whole number", str: "text"}.get(kind, kind.__name__)


def _between(lo: float, hi: float) -> Callable[[Any], str | None]:
    return lambda v: None if lo <= v <= hi else f"must be between {lo:g} and {hi:g}, not {v:g}"


def _positive(limit: int) -> Callable[[Any], str | None]:
    return lambda v: None if 0 < v <= limit else f"must be > 0 and at most {limit}, not {v}"


def _model_name(v: str) -> str | None:
    return None if v and len(v) <= 200 else "must be a model name (1-200 characters)"


KEYS: dict[str, KeySpec] = {
    spec.key: spec
    for spec in (
        KeySpec(
            "llm.temperature",
            float,
            "sampling temperature of answers (0 = deterministic)",
            _between(0.0, 2.0),
        ),
        KeySpec(
            "llm.top_p",
            float,
            "nucleus sampling: keep tokens within this probability mass",
            _between(0.0, 1.0),
        ),
        KeySpec("llm.max_tokens", int, "longest answer, in tokens", _positive(32768)),
        KeySpec(
            "llm.model",
            str,
            "model the main LLM backend answers with (Ollama/OpenAI-compatible)",
            _model_name,
            needs_models=True,
        ),
    )
}
