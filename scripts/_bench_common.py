"""Shared helpers for the retrieval evaluation and the ingest/retrieval benchmarks.

Everything here serves the scripts only; Morgan's library code never imports it. The parts:

* BEIR loading (`corpus.jsonl[.gz]`, `queries.jsonl`, `qrels/SPLIT.tsv`) and the standard
  BEIR metrics (nDCG@k with linear gains as trec_eval computes them, Recall@k, MRR@k);
* `morgan_services()`: Morgan built from settings on a temp `MORGAN_HOME`, exactly as the
  server builds itself (`build_services`), with the LLM switched to extractive so no model
  is loaded that retrieval never uses;
* `EmbeddingCache`: the same MiniLM embedder behind an on-disk cache keyed by the exact text,
  filled ahead of ingestion in large length-sorted batches (same model, same texts, so the
  vectors equal what ingestion computes itself, up to float rounding);
* `ExactVectorIndex`: an in-memory, exact (brute force) `VectorIndex` with Qdrant's scoring
  (cosine; sparse dot product with the `Modifier.IDF` formula): the reference the shipped
  engine's recall is measured against (`--vectors exact`, `--engines exact`).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import math
import os
import random
import sqlite3
import statistics
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# --------------------------------------------------------------------------- BEIR data


@dataclass
class BeirData:
    corpus: dict[str, tuple[str, str]]
    """doc id -> (title, text), in file order."""
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    """query id -> {doc id: graded relevance > 0}."""


def load_beir(
    folder: Path,
    split: str,
    *,
    limit_queries: int | None = None,
    limit_docs: int | None = None,
    seed: int = 13,
) -> BeirData:
    """Queries are those with qrels; `limit_docs` keeps every judged document of the kept
    queries and fills up with the others in file order (so the task stays meaningful)."""
    corpus_path = folder / "corpus.jsonl"
    opener = open
    if not corpus_path.exists():
        corpus_path, opener = folder / "corpus.jsonl.gz", gzip.open  # type: ignore[assignment]
    corpus: dict[str, tuple[str, str]] = {}
    with opener(corpus_path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                corpus[str(row["_id"])] = (row.get("title") or "", row.get("text") or "")
    queries_all: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                queries_all[str(row["_id"])] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or (i == 0 and not parts[2].strip().lstrip("-").isdigit()):
                continue
            qid, did, score = parts[0], parts[1], int(parts[2])
            if score > 0 and did in corpus:
                qrels.setdefault(qid, {})[did] = score
    qids = [q for q in queries_all if q in qrels]
    if limit_queries is not None and limit_queries < len(qids):
        qids = sorted(random.Random(seed).sample(qids, limit_queries), key=qids.index)
    queries = {q: queries_all[q] for q in qids}
    qrels = {q: qrels[q] for q in qids}
    if limit_docs is not None and limit_docs < len(corpus):
        judged = {d for rel in qrels.values() for d in rel}
        keep = [d for d in corpus if d in judged]
        for d in corpus:
            if len(keep) >= limit_docs:
                break
            if d not in judged:
                keep.append(d)
        keep_set = set(keep)
        corpus = {d: v for d, v in corpus.items() if d in keep_set}
    return BeirData(corpus=corpus, queries=queries, qrels=qrels)


def beir_markdown(title: str, text: str) -> bytes:
    """A BEIR document as the Markdown file a user would save: front-matter title, body."""
    title = " ".join(title.split()).replace('"', "'")
    body = text.strip() or title
    if not title:
        return body.encode("utf-8")
    return f'---\ntitle: "{title}"\n---\n\n{body}\n'.encode()


# --------------------------------------------------------------------------- metrics


def ndcg_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant.keys()) / len(relevant)


def mrr_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    for i, d in enumerate(ranked[:k]):
        if relevant.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_run(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean metrics over every judged query (a query with no results scores 0)."""
    rows = [
        (
            ndcg_at_k(run.get(q, []), rel, 10),
            recall_at_k(run.get(q, []), rel, 10),
            recall_at_k(run.get(q, []), rel, 100),
            mrr_at_k(run.get(q, []), rel, 10),
        )
        for q, rel in qrels.items()
    ]
    names = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
    return {
        name: round(statistics.fmean(r[i] for r in rows), 4) if rows else 0.0
        for i, name in enumerate(names)
    }


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --------------------------------------------------------------------------- embeddings


class EmbeddingCache:
    """The real embedder, memoised on disk by exact text (sha256) and model name."""

    def __init__(self, inner: Any, path: Path | None) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self._memory: dict[str, list[float]] = {}
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        self.hits = 0
        self.misses = 0
        self.embed_seconds = 0.0

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def warm_up(self) -> None:
        if hasattr(self.inner, "warm_up"):
            self.inner.warm_up()

    async def health(self) -> Any:
        return await self.inner.health()

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\0{text}".encode()).hexdigest()

    def _lookup(self, keys: Sequence[str]) -> None:
        missing = [k for k in dict.fromkeys(keys) if k not in self._memory]
        if not missing or self._db is None:
            return
        for start in range(0, len(missing), 500):
            part = missing[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, blob in self._db.execute(
                f"SELECT key, vec FROM emb WHERE key IN ({marks})", part
            ):
                self._memory[key] = np.frombuffer(blob, dtype=np.float32).tolist()

    def missing(self, texts: Iterable[str]) -> list[str]:
        unique = list(dict.fromkeys(texts))
        keys = [self._key(t) for t in unique]
        self._lookup(keys)
        return [t for t, k in zip(unique, keys, strict=True) if k not in self._memory]

    def _store(self, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        rows = []
        for text, vec in zip(texts, vectors, strict=True):
            key = self._key(text)
            self._memory[key] = list(vec)
            rows.append((key, np.asarray(vec, dtype=np.float32).tobytes()))
        if self._db is not None:
            self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)", rows)
            self._db.commit()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import time

        if not texts:
            return []
        todo = self.missing(texts)
        self.misses += len(todo)
        self.hits += len(texts) - len(todo)
        if todo:
            t0 = time.perf_counter()
            self._store(todo, await self.inner.embed(todo))
            self.embed_seconds += time.perf_counter() - t0
        return [self._memory[self._key(t)] for t in texts]

    async def prime(self, texts: Sequence[str], *, batch: int = 128, progress: Any = None) -> int:
        """Embed every uncached text, shortest first (less padding per batch)."""
        todo = sorted(self.missing(texts), key=len)
        for start in range(0, len(todo), batch):
            await self.embed(todo[start : start + batch])
            if progress is not None:
                progress(min(start + batch, len(todo)), len(todo))
        return len(todo)


class ConstantEmbedder:
    """Same unit vector for every text: lets a sparse-only evaluation skip the dense model."""

    name = "constant"

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension

    def warm_up(self) -> None:
        return None

    async def health(self) -> Any:
        from morgan.components import ComponentHealth

        return ComponentHealth("embeddings", self.name, "up")

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * (self.dimension - 1) for _ in texts]


def embedding_texts_for(files: Sequence[tuple[str, bytes]], token_counter: Any) -> list[str]:
    """The exact texts ingestion will embed for these files (same extract, chunk, prefix)."""
    from morgan.rag.chunking import chunk_document
    from morgan.rag.extract import ExtractionError, extract
    from morgan.rag.ingest import _embedding_text

    texts: list[str] = []
    for filename, data in files:
        try:
            extracted = extract(data, filename)
        except ExtractionError:
            continue
        title = (extracted.title or filename)[:512]
        doc = SimpleNamespace(title=title)
        for chunk in chunk_document(extracted, token_counter):
            row = SimpleNamespace(heading=(chunk.heading or "")[:1024], text=chunk.text)
            texts.append(_embedding_text(doc, row))  # type: ignore[arg-type]
    return texts


# --------------------------------------------------------------------------- services


@dataclass
class RagServices:
    """The retrieval half of `morgan.services.Services`, built the way `build_services` builds it."""

    settings: Any
    db: Any
    auth: Any
    blobs: Any
    vectors: Any
    embedder: Any
    documents: Any
    ingest: Any
    retriever: Any

    async def close(self) -> None:
        for closer in (self.vectors.close, getattr(self.blobs, "close", None), self.db.close):
            if closer is not None:
                await closer()


async def morgan_services(
    home: Path, *, vectors_url: str = "", extra_env: dict[str, str] | None = None
) -> RagServices:
    """Settings -> database (migrated), auth, blobs, vectors, MiniLM, ingest and retriever.

    Mirrors `morgan.services.build_services` for these parts, with the same builders, and
    leaves out the LLM, emotion, empathy and learning, which retrieval does not use (so no
    learned boosts: a fresh user has none anyway).
    """
    from morgan.auth import AuthService
    from morgan.services import build_rag
    from morgan.settings import load_settings
    from morgan.storage.db import Database

    env = {
        "MORGAN_HOME": str(home),
        "MORGAN_LLM_URL": "extractive://",
        "MORGAN_LOG_LEVEL": "warning",
        "MORGAN_LOG_FORMAT": "console",
        "MORGAN_AUTH_CREATE_LOCAL_USER": "false",
    }
    if vectors_url:
        env["MORGAN_VECTORS_URL"] = vectors_url
    env.update(extra_env or {})
    settings = load_settings(env)
    db = Database(settings.database.url)
    await db.ensure_schema(migrate=True)
    rag = await build_rag(settings, db)
    await asyncio.to_thread(rag.embedder.warm_up)
    return RagServices(
        settings,
        db,
        AuthService(db),
        rag.blobs,
        rag.vectors,
        rag.embedder,
        rag.documents,
        rag.ingest,
        rag.retriever,
    )


async def reopen_vectors(services: Any, old: Any, *, dimension: int) -> tuple[Any, float]:
    """Close the shipped index and open it again exactly as start-up does (for Qdrant Edge:
    the HNSW build runs here once enough points arrived, in a child process, awaited).
    Returns (index, seconds to open and build)."""
    import time

    from morgan.storage.vectors import build_vector_index

    s = services.settings
    await old.close()
    t0 = time.perf_counter()
    index = build_vector_index(
        s.vectors.url,
        collection=s.vectors.collection,
        dimension=dimension,
        api_key=s.vectors.api_key,
        optimize_at=s.vectors.optimize_at,
    )
    await index.ensure_collection()
    if hasattr(index, "wait_built"):
        await index.wait_built()
    services.vectors = index
    return index, round(time.perf_counter() - t0, 1)


def quiet_logs() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger().setLevel(logging.WARNING)


def use_components(services: Any, *, embedder: Any = None, vectors: Any = None) -> None:
    """Swap the embedder / vector index of the ingest service and the retriever alike."""
    for part in (services.ingest, services.retriever):
        if embedder is not None:
            part.embedder = embedder
        if vectors is not None:
            part.vectors = vectors


# --------------------------------------------------------------------------- exact index


@dataclass
class _Columns:
    chunk_ids: list[uuid.UUID] = field(default_factory=list)
    user: list[str] = field(default_factory=list)
    document: list[str] = field(default_factory=list)
    section: list[str] = field(default_factory=list)
    granularity: list[str] = field(default_factory=list)
    dense: list[np.ndarray] = field(default_factory=list)
    sparse: list[tuple[Sequence[int], Sequence[float]]] = field(default_factory=list)
    alive: list[bool] = field(default_factory=list)


class ExactVectorIndex:
    """`morgan.storage.vectors.VectorIndex` over numpy/scipy, exact and in memory.

    Scores as Qdrant does: cosine for dense; for sparse, the query weight times Qdrant's IDF
    `ln((N - df + 0.5) / (df + 0.5) + 1)` over every live point, dotted with the stored
    BM25 document weights. Filters (user, granularity) are applied before the top-k cut.
    """

    backend = "exact-numpy"

    def __init__(self, *, dimension: int = 384) -> None:
        self.dimension = dimension
        self.collection = "exact"
        self._cols = _Columns()
        self._row: dict[uuid.UUID, int] = {}
        self._built: Any = None

    async def ensure_collection(self) -> None:
        return None

    async def upsert(self, points: Sequence[Any]) -> None:
        c = self._cols
        for p in points:
            old = self._row.get(p.chunk_id)
            if old is not None:
                c.alive[old] = False
            self._row[p.chunk_id] = len(c.chunk_ids)
            c.chunk_ids.append(p.chunk_id)
            c.user.append(str(p.user_id))
            c.document.append(str(p.document_id))
            c.section.append(str(p.section_id))
            c.granularity.append(p.granularity)
            vec = np.asarray(p.dense, dtype=np.float32)
            norm = float(np.linalg.norm(vec))
            c.dense.append(vec / norm if norm else vec)
            c.sparse.append((list(p.sparse_indices), list(p.sparse_values)))
            c.alive.append(True)
        self._built = None

    async def delete_document(self, user_id: uuid.UUID, document_id: uuid.UUID) -> None:
        u, d = str(user_id), str(document_id)
        for i, (uu, dd) in enumerate(zip(self._cols.user, self._cols.document, strict=True)):
            if uu == u and dd == d:
                self._cols.alive[i] = False
        self._built = None

    async def delete_chunks(self, chunk_ids: Sequence[uuid.UUID]) -> None:
        for cid in chunk_ids:
            row = self._row.pop(cid, None)
            if row is not None:
                self._cols.alive[row] = False
        self._built = None

    def _build(self) -> Any:
        if self._built is not None:
            return self._built
        from scipy import sparse as sp

        c = self._cols
        alive = np.asarray(c.alive, dtype=bool)
        dense = np.vstack(c.dense) if c.dense else np.zeros((0, self.dimension), np.float32)
        vocab: dict[int, int] = {}
        rows, cols, vals = [], [], []
        df: dict[int, int] = {}
        for i, (ind, val) in enumerate(c.sparse):
            for t, v in zip(ind, val, strict=True):
                col = vocab.setdefault(int(t), len(vocab))
                rows.append(i)
                cols.append(col)
                vals.append(v)
                if alive[i]:
                    df[col] = df.get(col, 0) + 1
        matrix = sp.csc_matrix(
            (np.asarray(vals, np.float32), (np.asarray(rows), np.asarray(cols))),
            shape=(len(c.sparse), max(len(vocab), 1)),
        )
        self._built = SimpleNamespace(
            alive=alive,
            dense=dense,
            matrix=matrix,
            vocab=vocab,
            df=df,
            n_live=int(alive.sum()),
            user=np.asarray(c.user),
            granularity=np.asarray(c.granularity),
        )
        return self._built

    def _mask(self, b: Any, user_id: uuid.UUID | None, granularity: str | None) -> np.ndarray:
        mask = b.alive.copy()
        if user_id is not None:
            mask &= b.user == str(user_id)
        if granularity:
            mask &= b.granularity == granularity
        return mask

    def _top(self, scores: np.ndarray, mask: np.ndarray, limit: int) -> list[Any]:
        from morgan.storage.vectors import VectorHit

        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return []
        sub = scores[idx]
        k = min(limit, idx.size)
        part = np.argpartition(-sub, k - 1)[:k]
        part = part[np.argsort(-sub[part], kind="stable")]
        c = self._cols
        return [
            VectorHit(
                chunk_id=c.chunk_ids[i],
                document_id=uuid.UUID(c.document[i]),
                section_id=uuid.UUID(c.section[i]),
                granularity=c.granularity[i],
                score=float(scores[i]),
            )
            for i in idx[part]
        ]

    async def search_dense(
        self, user_id: uuid.UUID, vector: Sequence[float], *, granularity: str | None, limit: int
    ) -> list[Any]:
        b = self._build()
        q = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(q))
        scores = b.dense @ (q / norm if norm else q)
        return self._top(scores, self._mask(b, user_id, granularity), limit)

    async def search_sparse(
        self,
        user_id: uuid.UUID,
        indices: Sequence[int],
        values: Sequence[float],
        *,
        granularity: str | None,
        limit: int,
    ) -> list[Any]:
        if not indices:
            return []
        b = self._build()
        cols, weights = [], []
        for t, v in zip(indices, values, strict=True):
            col = b.vocab.get(int(t))
            if col is None:
                continue
            df = b.df.get(col, 0)
            cols.append(col)
            weights.append(v * math.log((b.n_live - df + 0.5) / (df + 0.5) + 1))
        if not cols:
            return []
        sub = b.matrix[:, cols]
        scores = np.asarray(sub @ np.asarray(weights, np.float32)).ravel()
        touched = np.zeros(len(scores), dtype=bool)
        touched[sub.nonzero()[0]] = True  # Qdrant returns only points sharing a term
        return self._top(scores, self._mask(b, user_id, granularity) & touched, limit)

    async def search(self, user_id: uuid.UUID, queries: Sequence[Any]) -> list[list[Any]]:
        out: list[list[Any]] = []
        for q in queries:
            if q.dense is not None:
                out.append(
                    await self.search_dense(
                        user_id, q.dense, granularity=q.granularity, limit=q.limit
                    )
                )
            else:
                out.append(
                    await self.search_sparse(
                        user_id,
                        q.sparse_indices,
                        q.sparse_values,
                        granularity=q.granularity,
                        limit=q.limit,
                    )
                )
        return out

    async def optimize(self) -> bool:
        return False

    async def stats(self) -> Any:
        from morgan.storage.vectors import IndexStats

        return IndexStats(self.backend, "memory", await self.count())

    async def count(self, user_id: uuid.UUID | None = None) -> int:
        b = self._build()
        return int(self._mask(b, user_id, None).sum())

    async def health(self) -> Any:
        from morgan.components import ComponentHealth

        return ComponentHealth("vectors", self.backend, "up")

    async def close(self) -> None:
        return None


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)
