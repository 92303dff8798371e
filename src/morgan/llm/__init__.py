"""LLM and embedding backends behind the `LLM` / `Embedder` protocols.

Build backends from settings with `factory.build_llm(url, model)`; chain them with
`FallbackLLM` (main → fast → extractive); trim prompts with `budget.fit_to_budget`; clean
model output with `citations.clean_citations`. Heavy model loading happens in `warm_up()`.
"""

from morgan.llm.base import (
    LLM,
    ChatMessage,
    Embedder,
    Generation,
    GenerationRequest,
    LLMUnavailable,
    SourcePassage,
)
from morgan.llm.budget import BudgetResult, fit_to_budget
from morgan.llm.citations import clean_citation_stream, clean_citations
from morgan.llm.errors import EmbedderUnavailable, LLMStreamInterrupted
from morgan.llm.extractive import NOT_FOUND, ExtractiveLLM
from morgan.llm.factory import build_embedder, build_fallback_llm, build_llm
from morgan.llm.fallback import BackendFailure, FallbackLLM, FallbackReport

__all__ = [
    "LLM",
    "NOT_FOUND",
    "BackendFailure",
    "BudgetResult",
    "ChatMessage",
    "Embedder",
    "EmbedderUnavailable",
    "ExtractiveLLM",
    "FallbackLLM",
    "FallbackReport",
    "Generation",
    "GenerationRequest",
    "LLMStreamInterrupted",
    "LLMUnavailable",
    "SourcePassage",
    "build_embedder",
    "build_fallback_llm",
    "build_llm",
    "clean_citation_stream",
    "clean_citations",
    "fit_to_budget",
]
