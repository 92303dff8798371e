"""Make a request fit the model's context window before it is sent.

Ollama (and llama.cpp) silently cut the front of an over-long prompt, which loses the
system prompt and the best sources without any signal. Instead Morgan drops the least
useful material itself, in a fixed order, and reports what went:

1. the lowest-ranked sources, down to `keep_sources` (sources arrive best-first);
2. the oldest history turns (a leading assistant turn goes with its user turn);
3. the remaining sources.

If system + question + the answer reservation alone exceed the window, the result says
`fits=False` and the caller decides (e.g. refuse, or shorten the answer).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import msgspec

from morgan.llm.base import ChatMessage, GenerationRequest, SourcePassage
from morgan.llm.prompts import render_source

MESSAGE_OVERHEAD_TOKENS = 4
"""Role markers and separators a chat template adds around every message."""

PROMPT_FRAME_TOKENS = 128
"""The fixed text a prompt renderer adds: "Sources:", "Question:", and for base models the
instructions and worked example of `prompts.render_completion_prompt` (~90 tokens)."""


class BudgetResult(msgspec.Struct, frozen=True):
    request: GenerationRequest
    prompt_tokens: int
    budget_tokens: int
    dropped_sources: tuple[int, ...] = ()
    """Citation numbers `n` of the sources that were dropped."""
    dropped_history: int = 0
    """How many of the oldest history messages were dropped."""
    fits: bool = True

    @property
    def trimmed(self) -> bool:
        return bool(self.dropped_sources or self.dropped_history)


def _source_cost(source: SourcePassage, count: Callable[[str], int]) -> int:
    return count(render_source(source)) + 2


def _message_cost(message: ChatMessage, count: Callable[[str], int]) -> int:
    return count(message.content) + MESSAGE_OVERHEAD_TOKENS


def fit_to_budget(
    request: GenerationRequest,
    count_tokens: Callable[[str], int],
    context_window: int,
    reserve_for_answer: int | None = None,
    *,
    keep_sources: int = 1,
    safety_margin: float = 0.1,
) -> BudgetResult:
    """Trim `request` so prompt + `reserve_for_answer` (default `max_tokens`) fits.

    `safety_margin` keeps a share of the window free because `count_tokens` may be an
    estimate (chars/4) that undercounts code or non-English text.
    """
    reserve = request.max_tokens if reserve_for_answer is None else reserve_for_answer
    budget = math.floor(context_window * (1.0 - safety_margin)) - reserve

    fixed = (
        PROMPT_FRAME_TOKENS
        + count_tokens(request.system)
        + MESSAGE_OVERHEAD_TOKENS
        + count_tokens(request.question)
        + MESSAGE_OVERHEAD_TOKENS
    )
    sources = list(request.sources)
    source_costs = [_source_cost(s, count_tokens) for s in sources]
    history = list(request.history)
    history_costs = [_message_cost(m, count_tokens) for m in history]
    dropped_sources: list[int] = []
    dropped_history = 0

    def total() -> int:
        return fixed + sum(source_costs) + sum(history_costs)

    while total() > budget and len(sources) > keep_sources:
        dropped_sources.append(sources.pop().n)
        source_costs.pop()
    while total() > budget and history:
        history.pop(0)
        history_costs.pop(0)
        dropped_history += 1
        if history and history[0].role == "assistant":
            history.pop(0)
            history_costs.pop(0)
            dropped_history += 1
    while total() > budget and sources:
        dropped_sources.append(sources.pop().n)
        source_costs.pop()

    trimmed = msgspec.structs.replace(request, sources=tuple(sources), history=tuple(history))
    return BudgetResult(
        request=trimmed,
        prompt_tokens=total(),
        budget_tokens=budget,
        dropped_sources=tuple(dropped_sources),
        dropped_history=dropped_history,
        fits=total() <= budget,
    )
