"""Sections into chunks at three granularities, linked parent to child.

Retrieval searches coarse (section-sized), medium and fine (sentence-sized) chunks at once:
fine chunks match precise questions, coarse ones give the LLM context. Each granularity is
packed from the same sentence units, so a medium chunk always lies inside its coarse parent
and a fine chunk is linked to the medium chunk it overlaps most. Chunks never cross a
section boundary, and sizes are measured with the embedding model's own tokenizer, so a
"512-token" chunk is 512 tokens to the model.

Sizes are token counts without the [CLS]/[SEP] specials. all-MiniLM-L6-v2 truncates at
256 tokens by default (sentence-transformers `max_seq_length`), so a coarse chunk above
that is embedded from its first 256 tokens unless the embedder raises the limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec
import structlog

from morgan.llm.minilm import minilm_model_dir
from morgan.rag.extract import ExtractedDocument
from morgan.text import append_trimmed, sentence_spans

log = structlog.get_logger(__name__)

Granularity = Literal["coarse", "medium", "fine"]
GRANULARITIES: tuple[Granularity, ...] = ("coarse", "medium", "fine")


class GranularitySize(msgspec.Struct, frozen=True):
    max_tokens: int
    min_tokens: int = 0
    """Stop growing a chunk once it has this many tokens (0: fill up to an even share)."""
    overlap_tokens: int = 0
    """Whole trailing sentences, up to this many tokens, are repeated in the next chunk."""


class ChunkSizes(msgspec.Struct, frozen=True):
    coarse: GranularitySize = GranularitySize(max_tokens=512)
    medium: GranularitySize = GranularitySize(max_tokens=200, min_tokens=150, overlap_tokens=40)
    fine: GranularitySize = GranularitySize(max_tokens=96, min_tokens=64, overlap_tokens=16)

    def of(self, granularity: Granularity) -> GranularitySize:
        return getattr(self, granularity)


class Chunk(msgspec.Struct, frozen=True):
    granularity: Granularity
    index: int
    """Position among the document's chunks of this granularity, 0-based and contiguous."""
    parent_index: int | None
    """Index of the enclosing chunk one level coarser (None for coarse chunks)."""
    section_index: int
    heading: str
    page: int | None
    text: str
    char_start: int
    """Offsets into the section's text: `section.text[char_start:char_end] == text`."""
    char_end: int
    token_count: int


# --------------------------------------------------------------------------- tokenizers


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens for many texts in one call (the tokenizer's batch path is much faster)."""

    def count_batch(self, texts: Sequence[str]) -> list[int]: ...


class HuggingFaceTokenCounter:
    """Token counts from a `tokenizers.Tokenizer` (the fast tokenizer behind AutoTokenizer).

    Works on a private copy with truncation and padding off, so a tokenizer shared with the
    embedder is never reconfigured behind its back.
    """

    def __init__(self, tokenizer: Any) -> None:
        from tokenizers import Tokenizer

        own = Tokenizer.from_str(tokenizer.to_str())
        own.no_truncation()
        own.no_padding()
        self._tokenizer = own

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def __call__(self, text: str) -> int:
        return self.count_batch([text])[0]


class _TransformersCounter:
    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tokenizer(list(texts), add_special_tokens=False, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]


class _CallableCounter:
    def __init__(self, count: Callable[[str], int]) -> None:
        self._count = count

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        return [int(self._count(text)) for text in texts]


def as_token_counter(tokenizer: object) -> TokenCounter:
    """Accept a TokenCounter, a `tokenizers.Tokenizer`, a transformers tokenizer, an object
    with `count_tokens(text)` (an embedder or LLM), or any `Callable[[str], int]`."""
    if isinstance(tokenizer, TokenCounter):
        return tokenizer
    if hasattr(tokenizer, "encode_batch") and hasattr(tokenizer, "to_str"):
        return HuggingFaceTokenCounter(tokenizer)
    if hasattr(tokenizer, "backend_tokenizer"):  # transformers PreTrainedTokenizerFast
        return HuggingFaceTokenCounter(tokenizer.backend_tokenizer)
    if hasattr(tokenizer, "batch_encode_plus"):  # slow transformers tokenizer
        return _TransformersCounter(tokenizer)
    count_tokens = getattr(tokenizer, "count_tokens", None)
    if callable(count_tokens):
        return _CallableCounter(count_tokens)
    if callable(tokenizer):
        return _CallableCounter(tokenizer)  # type: ignore[arg-type]
    raise TypeError(f"cannot count tokens with {type(tokenizer).__name__}")


def load_minilm_tokenizer(model_dir: Path | None = None) -> HuggingFaceTokenCounter:
    """The embedding model's WordPiece tokenizer, loaded from disk (never from the hub).

    Uses `tokenizers` directly: the same tokenizer.json AutoTokenizer would load, without
    importing transformers (seconds of start-up).
    """
    from morgan.onnx_models import load_tokenizer_file

    return HuggingFaceTokenCounter(
        load_tokenizer_file(model_dir or minilm_model_dir(), what="MiniLM model")
    )


# Sentences come from the one splitter in morgan.text (`sentence_spans`).


# --------------------------------------------------------------------------- chunking


class _Unit(msgspec.Struct):
    """A sentence (or a piece of an over-long one) of one section."""

    section_index: int
    start: int
    end: int
    tokens: int = 0


def chunk_document(
    doc: ExtractedDocument,
    tokenizer_count: TokenCounter | Callable[[str], int] | object,
    *,
    sizes: ChunkSizes | None = None,
) -> list[Chunk]:
    """Coarse, medium and fine chunks of `doc`, in that order, each in document order."""
    sizes = sizes or ChunkSizes()
    _check_sizes(sizes)
    counter = as_token_counter(tokenizer_count)
    texts = [section.text for section in doc.sections]

    units = _units(texts, counter, max_tokens=sizes.fine.max_tokens)
    by_section: dict[int, list[_Unit]] = {}
    for unit in units:
        by_section.setdefault(unit.section_index, []).append(unit)

    planned: dict[Granularity, list[tuple[int, int, int, int | None]]] = {
        granularity: [] for granularity in GRANULARITIES
    }  # (section, first unit, end unit, parent) per chunk
    for section_index, section_units in by_section.items():
        counts = [unit.tokens for unit in section_units]
        for coarse_start, coarse_end in _pack(counts, 0, len(counts), sizes.coarse):
            coarse_index = len(planned["coarse"])
            planned["coarse"].append((section_index, coarse_start, coarse_end, None))
            medium_first = len(planned["medium"])
            for start, end in _pack(counts, coarse_start, coarse_end, sizes.medium):
                planned["medium"].append((section_index, start, end, coarse_index))
            mediums = planned["medium"][medium_first:]
            for start, end in _pack(counts, coarse_start, coarse_end, sizes.fine):
                parent = medium_first + _best_parent(start, end, mediums, counts)
                planned["fine"].append((section_index, start, end, parent))

    flat = [
        (granularity, index, plan)
        for granularity in GRANULARITIES
        for index, plan in enumerate(planned[granularity])
    ]
    chunk_texts: list[str] = []
    for _, _, (section_index, start, end, _) in flat:
        section_units = by_section[section_index]
        chunk_texts.append(
            texts[section_index][section_units[start].start : section_units[end - 1].end]
        )
    token_counts = counter.count_batch(chunk_texts)

    chunks: list[Chunk] = []
    for (granularity, index, (section_index, start, end, parent)), text, tokens in zip(  # type: ignore[assignment]
        flat, chunk_texts, token_counts, strict=True
    ):
        section = doc.sections[section_index]
        section_units = by_section[section_index]
        if tokens > sizes.of(granularity).max_tokens:
            log.warning(
                "chunk_over_token_limit",
                granularity=granularity,
                tokens=tokens,
                limit=sizes.of(granularity).max_tokens,
            )
        chunks.append(
            Chunk(
                granularity=granularity,
                index=index,
                parent_index=parent,
                section_index=section_index,
                heading=section.heading,
                page=section.page,
                text=text,
                char_start=section_units[start].start,
                char_end=section_units[end - 1].end,
                token_count=tokens,
            )
        )
    return chunks


def _check_sizes(sizes: ChunkSizes) -> None:
    for granularity in GRANULARITIES:
        size = sizes.of(granularity)
        if size.max_tokens < 1 or size.min_tokens > size.max_tokens or size.overlap_tokens < 0:
            raise ValueError(f"invalid {granularity} chunk size: {size}")


def _units(texts: list[str], counter: TokenCounter, *, max_tokens: int) -> list[_Unit]:
    """Sentences of every section, with pieces of over-long sentences, all <= max_tokens."""
    units = [
        _Unit(section_index, start, end)
        for section_index, text in enumerate(texts)
        for start, end in sentence_spans(text)
    ]
    # Each pass splits what is still too long one level finer: lines, then words, then chars.
    for splitter in (_split_lines, _split_words, _split_chars):
        pending = [unit for unit in units if unit.tokens == 0]
        counts = counter.count_batch([texts[u.section_index][u.start : u.end] for u in pending])
        for unit, count in zip(pending, counts, strict=True):
            unit.tokens = max(count, 1)
        if all(unit.tokens <= max_tokens for unit in units):
            return units
        refined: list[_Unit] = []
        for unit in units:
            if unit.tokens <= max_tokens:
                refined.append(unit)
            else:
                text = texts[unit.section_index]
                refined.extend(
                    _Unit(unit.section_index, start, end)
                    for start, end in splitter(text, unit.start, unit.end, unit.tokens, max_tokens)
                )
        units = refined
    pending = [unit for unit in units if unit.tokens == 0]
    counts = counter.count_batch([texts[u.section_index][u.start : u.end] for u in pending])
    for unit, count in zip(pending, counts, strict=True):
        unit.tokens = max(count, 1)
    return units


_LINE = re.compile(r"[^\n]+")
_WORD = re.compile(r"\S+")


def _split_lines(text: str, start: int, end: int, tokens: int, limit: int) -> list[tuple[int, int]]:
    return _regex_pieces(_LINE, text, start, end)


def _split_words(text: str, start: int, end: int, tokens: int, limit: int) -> list[tuple[int, int]]:
    """Runs of whole words sized so each run is well under the limit (packing regroups them)."""
    words = _regex_pieces(_WORD, text, start, end)
    if len(words) <= 1:
        return words
    per_run = max(1, int(len(words) * limit / tokens / 2))
    return [
        (words[i][0], words[min(i + per_run, len(words)) - 1][1])
        for i in range(0, len(words), per_run)
    ]


def _split_chars(text: str, start: int, end: int, tokens: int, limit: int) -> list[tuple[int, int]]:
    """Last resort for a single enormous "word" (a hash, base64, a URL)."""
    width = max(1, int((end - start) * limit / tokens / 2))
    return [(i, min(i + width, end)) for i in range(start, end, width)]


def _regex_pieces(
    pattern: re.Pattern[str], text: str, start: int, end: int
) -> list[tuple[int, int]]:
    pieces: list[tuple[int, int]] = []
    for match in pattern.finditer(text, start, end):
        append_trimmed(pieces, text, match.start(), match.end())
    return pieces or [(start, end)]


def _pack(counts: list[int], lo: int, hi: int, size: GranularitySize) -> list[tuple[int, int]]:
    """Greedy, balanced packing of units `lo..hi` into ranges of at most `max_tokens`.

    The target per chunk is an even share of the total (so 600 tokens become 300 + 300,
    not 512 + 88), never less than `min_tokens`. With overlap, the next range restarts at
    trailing units of the previous one worth at most `overlap_tokens`.
    """
    if lo >= hi:
        return []
    total = sum(counts[lo:hi])
    pieces = max(1, math.ceil(total / size.max_tokens))
    target = max(size.min_tokens, math.ceil(total / pieces))
    ranges: list[tuple[int, int]] = []
    start, previous_end = lo, lo
    while True:
        end, tokens = start, 0
        while end < hi and (end == start or tokens + counts[end] <= size.max_tokens):
            tokens += counts[end]
            end += 1
            if tokens >= target and end > previous_end:
                break
        ranges.append((start, end))
        if end >= hi:
            break
        previous_end = end
        start = _overlap_start(counts, start, end, size)
    return _merge_small_tail(ranges, counts, size)


def _overlap_start(counts: list[int], start: int, end: int, size: GranularitySize) -> int:
    next_start, budget = end, size.overlap_tokens
    while next_start - 1 > start and counts[next_start - 1] <= budget:
        budget -= counts[next_start - 1]
        next_start -= 1
    # The overlap plus the next new unit must still fit, or the next range could not grow.
    while next_start < end and sum(counts[next_start:end]) + counts[end] > size.max_tokens:
        next_start += 1
    return next_start


def _merge_small_tail(
    ranges: list[tuple[int, int]], counts: list[int], size: GranularitySize
) -> list[tuple[int, int]]:
    if len(ranges) < 2:
        return ranges
    (prev_start, prev_end), (tail_start, tail_end) = ranges[-2], ranges[-1]
    new_tokens = sum(counts[max(prev_end, tail_start) : tail_end])
    small = new_tokens < max(size.min_tokens, size.max_tokens // 4) // 2
    if small and sum(counts[prev_start:tail_end]) <= size.max_tokens:
        return [*ranges[:-2], (prev_start, tail_end)]
    return ranges


def _best_parent(
    start: int, end: int, parents: list[tuple[int, int, int, int | None]], counts: list[int]
) -> int:
    """The parent range sharing the most tokens with units `start..end` (first on ties)."""
    best, best_shared = 0, -1
    for position, (_, parent_start, parent_end, _) in enumerate(parents):
        shared = sum(counts[max(start, parent_start) : min(end, parent_end)])
        if shared > best_shared:
            best, best_shared = position, shared
    return best
