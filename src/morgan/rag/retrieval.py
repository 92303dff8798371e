"""Hybrid multi-granularity retrieval: dense + sparse over coarse/medium/fine chunks, fused.

Hits of every granularity are fused on their *section* (the coarse ancestor), so a fine hit
and a coarse hit on the same passage reinforce each other instead of competing. Each
section is represented by its best fine/medium hit, expanded to the medium chunk around it
for context. Learned per-document boosts then adjust the fused score, and a cross-encoder
reranks the head of the list when one is up.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import msgspec
import structlog

from morgan.errors import database_down
from morgan.llm.base import Embedder
from morgan.observability import timed
from morgan.rag.documents import DocumentRepository
from morgan.rag.fusion import reciprocal_rank_fusion
from morgan.rag.sparse import SparseEncoder
from morgan.storage.cache import Cache
from morgan.storage.vectors import VectorIndex, VectorIndexUnavailable, VectorQuery

log = structlog.get_logger(__name__)

GRANULARITIES = ("coarse", "medium", "fine")
Mode = Literal["hybrid", "dense", "sparse"]
SNIPPET_CHARS = 240
SECTION_RRF_K = 10
"""RRF constant for the six section lists. Lower than the classic 60: with six lists voting
on the same sections, agreement near the top should dominate. On BEIR SciFact train (809
queries, 1,000-document subset) nDCG@10 was 0.843 at k=60, 0.849 at 15, 0.851 at 10, 0.855 at 5
(scripts/eval_retrieval.py; docs/benchmarks/retrieval.md)."""
PASSAGE_TTL_S = 7 * 24 * 3600
"""Passages read for an answer are kept in the cache this long, so that while the database is
down retrieval still answers from the vector index with the passages recently seen."""


class Passage(msgspec.Struct, kw_only=True):
    document_id: uuid.UUID
    section_id: uuid.UUID
    chunk_id: uuid.UUID
    chunk_index: int
    granularity: str
    title: str
    heading: str
    page: int | None
    text: str
    snippet: str
    score: float


class RerankerLike(Protocol):
    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]: ...


BoostLookup = Callable[[uuid.UUID], Awaitable[Mapping[uuid.UUID, float]]]


@dataclass(slots=True)
class RetrievalResult:
    passages: list[Passage]
    degraded: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    document_scores: list[tuple[uuid.UUID, float]] = field(default_factory=list)
    dense_scores: dict[uuid.UUID, float] = field(default_factory=dict)
    """Best dense cosine similarity per section: an absolute relevance signal (RRF scores
    are ranks), used by `morgan.rag.evidence` to tell "not in your documents"."""


@dataclass(slots=True)
class _Hit:
    chunk_id: uuid.UUID
    document_id: uuid.UUID
    section_id: uuid.UUID
    granularity: str


class Retriever:
    def __init__(
        self,
        *,
        documents: DocumentRepository,
        vectors: VectorIndex,
        embedder: Embedder,
        sparse: SparseEncoder,
        reranker: RerankerLike | None = None,
        boosts: BoostLookup | None = None,
        candidates_per_list: int = 40,
        rerank_depth: int = 20,
        passage_cache: Cache | None = None,
    ) -> None:
        self.passage_cache = passage_cache
        self.documents = documents
        self.vectors = vectors
        self.embedder = embedder
        self.sparse = sparse
        self.reranker = reranker
        self.boosts = boosts
        self.candidates_per_list = candidates_per_list
        self.rerank_depth = rerank_depth

    @timed("rag_search")
    async def retrieve(
        self,
        user_id: uuid.UUID,
        query: str,
        *,
        top_k: int = 5,
        mode: Mode = "hybrid",
        query_vector: Sequence[float] | None = None,
        rerank: bool = True,
    ) -> RetrievalResult:
        result = RetrievalResult(passages=[])
        t0 = time.perf_counter()
        lists = await self._ranked_lists(user_id, query, mode, query_vector, result)
        result.timings["search_ms"] = _ms(t0)

        section_scores = reciprocal_rank_fusion(
            [[h.section_id for h in lst] for lst in lists], k=SECTION_RRF_K
        )
        best_hit = _representative_hits(lists)
        if self.boosts is not None and section_scores:
            boosts = await self._boosts(user_id, result)
            if boosts:
                for sid, hit in best_hit.items():
                    section_scores[sid] *= 1.0 + boosts.get(hit.document_id, 0.0)
        ordered = sorted(section_scores.items(), key=lambda kv: (-kv[1], str(kv[0])))
        doc_scores: dict[uuid.UUID, float] = {}
        for sid, score in ordered:
            doc = best_hit[sid].document_id
            doc_scores[doc] = max(doc_scores.get(doc, 0.0), score)
        result.document_scores = sorted(doc_scores.items(), key=lambda kv: -kv[1])

        depth = max(top_k, self.rerank_depth if (rerank and self.reranker) else top_k)
        head = ordered[:depth]
        passages = await self._passages(user_id, [(best_hit[s], sc) for s, sc in head], result)
        if rerank and self.reranker is not None and passages:
            t1 = time.perf_counter()
            try:
                scores = await self.reranker.rerank(query, [p.text for p in passages])
                for p, s in zip(passages, scores, strict=True):
                    p.score = float(s)
                passages.sort(key=lambda p: -p.score)
            except Exception as exc:  # noqa: BLE001 - any reranker failure keeps fused order
                log.warning("reranker_failed", error=str(exc)[:200])
                result.degraded.append("reranker")
            result.timings["rerank_ms"] = _ms(t1)
        result.passages = passages[:top_k]
        result.timings["retrieve_ms"] = _ms(t0)
        return result

    async def _ranked_lists(
        self,
        user_id: uuid.UUID,
        query: str,
        mode: Mode,
        query_vector: Sequence[float] | None,
        result: RetrievalResult,
    ) -> list[list[_Hit]]:
        limit = self.candidates_per_list
        try:
            # The six searches go to the engine as one batch; the sections are fused here,
            # not by the engine's RRF, which fuses point ids (it changed the top-10
            # sections by 13-15 % at perfect recall).
            queries: list[VectorQuery] = []
            if mode in ("hybrid", "dense"):
                vector = query_vector
                if vector is None:
                    vector = (await self.embedder.embed([query]))[0]
                queries += [
                    VectorQuery.dense_query(vector, granularity=g, limit=limit)
                    for g in GRANULARITIES
                ]
            if mode in ("hybrid", "sparse"):
                indices, values = self.sparse.encode_query(query)
                queries += [
                    VectorQuery.sparse_query(indices, values, granularity=g, limit=limit)
                    for g in GRANULARITIES
                ]
            results = await self.vectors.search(user_id, queries)
            for q, hits in zip(queries, results, strict=True):
                if q.dense is not None:
                    for h in hits:
                        best = result.dense_scores.get(h.section_id)
                        if best is None or h.score > best:
                            result.dense_scores[h.section_id] = h.score
            return [
                [_Hit(h.chunk_id, h.document_id, h.section_id, h.granularity) for h in hits]
                for hits in results
            ]
        except VectorIndexUnavailable as exc:
            log.warning("vectors_unavailable_keyword_fallback", error=str(exc)[:200])
            result.degraded.append("vectors")
            lists = []
            for g in GRANULARITIES:
                hits = await self.documents.keyword_search(  # type: ignore[assignment]
                    user_id, query, granularity=g, limit=limit
                )
                lists.append(
                    [_Hit(h.chunk_id, h.document_id, h.section_id, h.granularity) for h in hits]
                )
            return lists

    async def _boosts(
        self, user_id: uuid.UUID, result: RetrievalResult
    ) -> Mapping[uuid.UUID, float]:
        """Learned boosts, or none when they cannot be read: they refine, never block."""
        if self.boosts is None:
            return {}
        try:
            return await self.boosts(user_id)
        except Exception as exc:  # noqa: BLE001 - any failure only loses the refinement
            log.warning("boosts_unavailable", error=str(exc)[:200])
            if database_down(exc) and "database" not in result.degraded:
                result.degraded.append("database")
            return {}

    async def _passages(
        self, user_id: uuid.UUID, head: Sequence[tuple[_Hit, float]], result: RetrievalResult
    ) -> list[Passage]:
        """The rows behind the hits; while the database is down, the cached passages."""
        if not head:
            return []
        cache = self.passage_cache
        try:
            passages = await self._materialise(user_id, head)
        except Exception as exc:
            if cache is None or not database_down(exc):
                raise
            log.warning("passages_from_cache", error=str(exc)[:200])
            if "database" not in result.degraded:
                result.degraded.append("database")
            return await _cached_passages(cache, user_id, head)
        if cache is not None:
            await _cache_passages(cache, user_id, passages)
        return passages

    async def _materialise(
        self, user_id: uuid.UUID, head: Sequence[tuple[_Hit, float]]
    ) -> list[Passage]:
        """Fetch rows for the representatives; a fine hit is widened to its medium parent."""
        chunks = await self.documents.chunks_by_ids(user_id, [h.chunk_id for h, _ in head])
        parents = await self.documents.chunks_by_ids(
            user_id,
            [c.parent_id for c in chunks.values() if c.granularity == "fine" and c.parent_id],
        )
        docs = await self.documents.documents_by_ids(user_id, [h.document_id for h, _ in head])
        passages: list[Passage] = []
        for hit, score in head:
            chunk = chunks.get(hit.chunk_id)
            doc = docs.get(hit.document_id)
            if chunk is None or doc is None:
                continue  # vector without rows: mid-replacement or leftover; never shown
            context = (
                parents.get(chunk.parent_id)
                if chunk.granularity == "fine" and chunk.parent_id
                else None
            )
            text = (context or chunk).text
            passages.append(
                Passage(
                    document_id=doc.id,
                    section_id=hit.section_id,
                    chunk_id=chunk.id,
                    chunk_index=chunk.chunk_index,
                    granularity=chunk.granularity,
                    title=doc.title or doc.filename,
                    heading=chunk.heading,
                    page=chunk.page,
                    text=text,
                    snippet=_snippet(chunk.text),
                    score=round(score, 6),
                )
            )
        return passages


def _passage_key(user_id: uuid.UUID, chunk_id: uuid.UUID) -> str:
    return f"passage:{user_id}:{chunk_id}"


async def _cache_passages(cache: Cache, user_id: uuid.UUID, passages: Sequence[Passage]) -> None:
    # Concurrently: with Redis, one round trip of latency per answer instead of one per passage.
    results = await asyncio.gather(
        *(
            cache.set_json(
                _passage_key(user_id, p.chunk_id), msgspec.to_builtins(p), ttl_s=PASSAGE_TTL_S
            )
            for p in passages
        ),
        return_exceptions=True,
    )
    failed = next((r for r in results if isinstance(r, BaseException)), None)
    if failed is not None:  # the copy is for outages; never fail an answer
        log.warning("passages_not_cached", error=str(failed)[:200])


async def _cached_passages(
    cache: Cache, user_id: uuid.UUID, head: Sequence[tuple[_Hit, float]]
) -> list[Passage]:
    """The hits whose passages were read before; the others are dropped, as hits without
    rows always are."""
    found = await asyncio.gather(
        *(cache.get_json(_passage_key(user_id, hit.chunk_id), Passage) for hit, _ in head)
    )
    out: list[Passage] = []
    for (_, score), passage in zip(head, found, strict=True):
        if passage is not None:
            passage.score = round(score, 6)
            out.append(passage)
    return out


def _representative_hits(lists: Sequence[Sequence[_Hit]]) -> dict[uuid.UUID, _Hit]:
    """Per section, the best-ranked fine/medium hit (coarse only when nothing finer matched)."""
    best: dict[uuid.UUID, tuple[int, int, _Hit]] = {}
    for lst in lists:
        for rank, hit in enumerate(lst):
            coarse_penalty = 1 if hit.granularity == "coarse" else 0
            key = (coarse_penalty, rank)
            current = best.get(hit.section_id)
            if current is None or key < current[:2]:
                best[hit.section_id] = (coarse_penalty, rank, hit)
    return {sid: v[2] for sid, v in best.items()}


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
