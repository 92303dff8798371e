"""`VectorIndex` on Qdrant Edge: Qdrant's engine in-process, in one folder under MORGAN_HOME.

What the measurements (docs/BENCHMARKS.md, "Vector engine") say to respect:

* every Edge call holds the GIL for most of its duration, so none runs on the event loop:
  writes run in order on one thread, searches on another (`_run`), so the loop turns
  between calls and a search never queues behind a write's flush (an fsync, ~25 ms);
* `optimize()` (the HNSW build) freezes the process for seconds to minutes, so it never runs
  in the serving process: new points are searched by filtered brute force (exact), and once
  `OPTIMIZE_AT` points have arrived since the last build, start-up builds the graph in a child
  process (`morgan.storage.vectors.build`) while the server answers with keyword-only
  retrieval, then opens the shard again (`morgan index optimize` builds with the server
  stopped; `build_in_child=False` builds before `ensure_collection` returns);
* filtered HNSW loses recall when a filter keeps a small share of the points (user x
  granularity), so dense searches use ACORN, which restores it (`SEARCH_PARAMS`);
* each write is flushed before it is acknowledged, so a crash replays at most the WAL tail
  and loses nothing acknowledged;
* one process per folder: a second opener gets `VectorIndexLocked`, with the folder named.

A folder left by qdrant-client's local mode (Morgan before Qdrant Edge) is migrated in place
on first open (`morgan.storage.vectors.migrate`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import structlog

from morgan.components import ComponentHealth
from morgan.storage.vectors import (
    DENSE,
    PAYLOAD_FIELDS,
    SPARSE,
    IndexStats,
    VectorHit,
    VectorIndexBuilding,
    VectorIndexLocked,
    VectorIndexUnavailable,
    VectorPoint,
    VectorQuery,
)
from morgan.storage.vectors import build as child_build

log = structlog.get_logger(__name__)

T = TypeVar("T")

OPTIMIZE_AT = 20_000
"""Points added since the last HNSW build that make start-up build it again. Filtered brute
force over unindexed points is exact and cheap at this size, and costs as much as HNSW+ACORN
at 50k (hybrid p50 176 vs 214 ms, one loaded run) but 3.5x more at 150k unindexed (990 vs
285 ms); the build stalls start-up (8 s at 20k, 59 s at 50k, 238 s at 200k on a quiet
machine). docs/BENCHMARKS.md, "Vector engine"."""
HNSW_M = 16
HNSW_EF_CONSTRUCT = 128
SEARCH_EF = 256
"""With ACORN: dense recall@10 0.983 at 200k (ef 128: 0.975; user x granularity filters);
without ACORN 0.936 even at ef 256. The graph serves only above `EXACT_UP_TO`, where a
hybrid question took 39 ms p95 at ef 128 on a quiet machine: room for the wider beam."""
EXACT_UP_TO = 60_000
"""Up to this many points in the shard, dense searches are exact (filtered brute force over
the payload index) even where the HNSW graph is built: on full SciFact train (40k chunks)
HNSW+ACORN cost 0.003 nDCG@10 against exact (0.7315 vs 0.7341; ef 256: 0.7322, ef 512:
0.7333) for 4 ms of p95 saved (46.8 vs 50.0 ms). Three exact filtered dense queries take
8 ms at 50k points, 30 ms at 100k, 68 ms at 200k, where the graph is the better deal.
docs/BENCHMARKS.md, "Vector engine"."""
UPSERT_BATCH = 64
"""Points per Edge update call: each call holds the GIL (~2 ms for 64 points), so a search
waits for at most one; the flush (an fsync, ~25 ms here) comes once per `upsert`, after the
last batch: ingestion sends a whole document in one `upsert`."""
SIDECAR = "morgan-index.json"
"""Morgan's own notes next to Edge's files: points covered by the last optimize."""
KEYWORD_FIELDS = ("user_id", "document_id", "granularity")


def _edge() -> Any:
    import qdrant_edge

    return qdrant_edge


def edge_config(dimension: int) -> Any:
    e = _edge()
    return e.EdgeConfig(
        vectors={DENSE: e.EdgeVectorParams(size=dimension, distance=e.Distance.Cosine)},
        sparse_vectors={SPARSE: e.EdgeSparseVectorParams(modifier=e.Modifier.Idf)},
        hnsw_config=e.HnswIndexConfig(
            m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT, full_scan_threshold=10_000
        ),
    )


def is_edge_folder(path: Path) -> bool:
    return (path / "edge_config.json").is_file()


def open_shard(path: Path, dimension: int) -> Any:
    """Load the shard at `path`, or create it with Morgan's config and payload indexes."""
    e = _edge()
    try:
        if is_edge_folder(path):
            return e.EdgeShard.load(str(path))
        path.mkdir(parents=True, exist_ok=True)
        shard = e.EdgeShard.create(str(path), edge_config(dimension))
        for name in KEYWORD_FIELDS:
            shard.update(e.UpdateOperation.create_field_index(name, e.PayloadSchemaType.Keyword))
        shard.flush()
        return shard
    except Exception as exc:
        if "WouldBlock" in str(exc) or "lock" in str(exc).lower():
            raise VectorIndexLocked(
                f"the vector folder {path} is held by another process (Qdrant Edge allows one "
                "process per folder): stop the running `morgan serve` first, or go through it"
            ) from exc
        raise


def to_edge_point(p: VectorPoint) -> Any:
    e = _edge()
    return e.Point(
        id=str(p.chunk_id),
        vector={
            DENSE: [float(x) for x in p.dense],
            SPARSE: e.SparseVector(
                indices=[int(i) for i in p.sparse_indices],
                values=[float(v) for v in p.sparse_values],
            ),
        },
        payload={
            "user_id": str(p.user_id),
            "document_id": str(p.document_id),
            "section_id": str(p.section_id),
            "granularity": p.granularity,
        },
    )


def read_sidecar(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((path / SIDECAR).read_text()))
    except (OSError, ValueError):
        return {}


def write_sidecar(path: Path, **values: Any) -> None:
    data = read_sidecar(path) | values
    tmp = path / (SIDECAR + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path / SIDECAR)


def optimize_shard(shard: Any, path: Path) -> bool:
    """Build HNSW now (blocks the process); remembers how many points it covered."""
    points = int(shard.info().points_count)
    t0 = time.perf_counter()
    changed = bool(shard.optimize())
    shard.flush()
    write_sidecar(
        path, optimized_points=points, optimize_seconds=round(time.perf_counter() - t0, 1)
    )
    log.info(
        "vector_index_optimized",
        path=str(path),
        points=points,
        changed=changed,
        seconds=round(time.perf_counter() - t0, 1),
    )
    return changed


class EdgeVectorIndex:
    backend = "qdrant-edge"

    def __init__(
        self,
        path: Path,
        *,
        collection: str = "morgan_chunks",
        dimension: int,
        optimize_at: int | None = OPTIMIZE_AT,
        search_ef: int = SEARCH_EF,
        acorn: bool = True,
        build_in_child: bool = True,
        exact_up_to: int = EXACT_UP_TO,
    ) -> None:
        """`optimize_at=None`: never build HNSW on open (brute force only);
        `build_in_child=False`: a due build runs inside `ensure_collection` (blocking)."""
        self.path = Path(path)
        self.collection = collection  # one shard per folder; kept for stats and migration
        self.dimension = dimension
        self.optimize_at = optimize_at
        self.search_ef = search_ef
        self.acorn = acorn
        self.build_in_child = build_in_child
        self.exact_up_to = exact_up_to
        self._shard: Any = None
        self._error = "not opened yet"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-edge")
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-edge-read")
        self._closed = False
        self._build: child_build.Build | None = None
        self._watch: asyncio.Task[None] | None = None
        self._built = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------
    async def ensure_collection(self) -> None:
        if self._build is not None:
            return  # building; `_reopen_after` opens the shard
        due = await self._submit(self._open_sync)
        if due is None:
            self._built.set()
            return
        # On the loop's thread: the child's death signal follows the thread that starts it.
        points, last_seconds = due
        try:
            self._build = await child_build.start(
                self.path, points=points, last_seconds=last_seconds
            )
        except OSError as exc:  # no child (no processes left?): serve unbuilt, exact
            log.error("vector_index_build_not_started_serving_brute_force", error=str(exc))
            await self._submit(self._open_unbuilt)
            self._built.set()
            return
        self._error = "building"
        log.warning(
            "vector_index_building_in_child",
            path=str(self.path),
            points=points,
            pid=self._build.process.pid,
        )
        self._watch = asyncio.create_task(self._reopen_after(self._build))

    def _open_sync(self) -> tuple[int, float | None] | None:
        """Open the shard; when a build is due in a child, close it again and say so."""
        if self._shard is not None or self._build is not None:
            return None
        from morgan.storage.vectors.migrate import migrate_in_place_if_needed

        try:
            migrate_in_place_if_needed(
                self.path, collection=self.collection, dimension=self.dimension
            )
            shard = open_shard(self.path, self.dimension)
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"[:300]
            raise
        points = int(shard.info().points_count)
        if self.optimize_at is not None:
            side = read_sidecar(self.path)
            since_last = points - int(side.get("optimized_points", 0))
            if since_last >= self.optimize_at and self.build_in_child:
                shard.flush()
                shard.close()  # the child owns the folder until it exits
                return points, side.get("optimize_seconds")
            if since_last >= self.optimize_at:
                log.warning(
                    "vector_index_optimizing_before_serving",
                    path=str(self.path),
                    points=points,
                    since_last=since_last,
                )
                optimize_shard(shard, self.path)
        self._shard = shard
        log.info("vector_index_opened", backend=self.backend, path=str(self.path), points=points)
        return None

    def _open_unbuilt(self) -> None:
        self._shard = open_shard(self.path, self.dimension)

    async def _reopen_after(self, build: child_build.Build) -> None:
        """Once the child exits, open the shard, built or not (a failed build loses nothing)."""
        code = await build.process.wait()
        if code == 0:
            log.info("vector_index_built_in_child", seconds=round(build.elapsed_s, 1))
        else:
            log.error(
                "vector_index_build_failed_serving_brute_force",
                exit_code=code,
                seconds=round(build.elapsed_s, 1),
                note="every point stays searchable (exact, slower); the next start builds again",
            )

        try:
            await self._submit(self._open_unbuilt)
        except Exception as exc:  # noqa: BLE001 - shown in health; the process keeps serving
            self._error = f"reopening after the build: {type(exc).__name__}: {exc}"[:300]
            log.error("vector_index_reopen_failed", error=self._error)
        finally:
            self._build = None
            self._built.set()

    async def wait_built(self) -> None:
        """Until no build runs (at once when none was due; benchmarks and tests)."""
        await self._built.wait()

    async def close(self) -> None:
        def close_sync() -> None:
            if self._shard is not None:
                shard, self._shard = self._shard, None
                self._error = "closed"
                shard.flush()
                shard.close()

        if self._closed:
            return
        self._closed = True
        build, watch = self._build, self._watch
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        if build is not None and build.process.returncode is None:
            log.warning("vector_index_build_stopped", note="the next start-up builds again")
            await child_build.stop(build)
        try:
            await asyncio.to_thread(self._reads.shutdown, wait=True)  # no search in flight
            await self._submit(close_sync)
        finally:
            self._executor.shutdown(wait=False)

    async def health(self) -> ComponentHealth:
        if self._build is not None:
            return ComponentHealth("vectors", self.backend, "degraded", self._build.describe())
        if self._shard is None:
            return ComponentHealth("vectors", self.backend, "down", self._error)
        return ComponentHealth("vectors", self.backend, "up")

    # -- writes ----------------------------------------------------------------------------
    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        if not points:
            await self._run(lambda s: None)  # nothing to write, but refused like a write
            return
        e = _edge()
        for start in range(0, len(points), UPSERT_BATCH):
            part = points[start : start + UPSERT_BATCH]
            await self._run(
                lambda s, part=part: s.update(  # type: ignore[misc]
                    e.UpdateOperation.upsert_points([to_edge_point(p) for p in part])
                )
            )
        await self._run(lambda s: s.flush())  # acknowledged once on disk

    async def delete_document(self, user_id: uuid.UUID, document_id: uuid.UUID) -> None:
        e = _edge()
        op = e.UpdateOperation.delete_points_by_filter(_filter(user_id, document_id=document_id))
        await self._run(lambda s: (s.update(op), s.flush()))

    async def delete_chunks(self, chunk_ids: Sequence[uuid.UUID]) -> None:
        if not chunk_ids:
            return
        e = _edge()
        op = e.UpdateOperation.delete_points([str(c) for c in chunk_ids])
        await self._run(lambda s: (s.update(op), s.flush()))

    # -- reads -----------------------------------------------------------------------------
    async def search(
        self, user_id: uuid.UUID, queries: Sequence[VectorQuery]
    ) -> list[list[VectorHit]]:
        e = _edge()
        graph_params = e.SearchParams(
            hnsw_ef=self.search_ef,
            acorn=e.AcornSearchParams(enable=True) if self.acorn else None,
        )
        exact_params = e.SearchParams(exact=True)
        dense: list[Any] = []  # requests whose params depend on the shard's size
        requests: list[Any] = []
        slots: list[int] = []
        for i, q in enumerate(queries):
            if q.dense is not None:
                query = e.Query.Nearest([float(x) for x in q.dense], using=DENSE)
            elif q.sparse_indices:
                query = e.Query.Nearest(
                    e.SparseVector(
                        indices=[int(x) for x in q.sparse_indices],
                        values=[float(v) for v in q.sparse_values],
                    ),
                    using=SPARSE,
                )
            else:
                continue  # a query with no terms matches nothing
            request = dict(
                limit=q.limit,
                query=query,
                filter=_filter(user_id, granularity=q.granularity),
                with_payload=list(PAYLOAD_FIELDS),
            )
            requests.append(request)
            if q.dense is not None:
                dense.append(request)
            slots.append(i)
        out: list[list[VectorHit]] = [[] for _ in queries]
        if not requests:
            return out

        def query_batch(s: Any) -> Any:
            exact = int(s.info().points_count) <= self.exact_up_to  # ~3 us
            for request in dense:
                request["params"] = exact_params if exact else graph_params
            return s.query_batch(e.QueryBatchRequest([e.QueryRequest(**r) for r in requests]))

        results = await self._run(query_batch, read=True)
        for slot, points in zip(slots, results, strict=True):
            out[slot] = [_hit(p) for p in points]
        return out

    async def count(self, user_id: uuid.UUID | None = None) -> int:
        e = _edge()
        request = e.CountRequest(exact=True, filter=_filter(user_id) if user_id else None)
        return int(await self._run(lambda s: s.count(request), read=True))

    async def optimize(self) -> bool:
        return bool(await self._run(lambda s: optimize_shard(s, self.path)))

    async def stats(self) -> IndexStats:
        def read(s: Any) -> IndexStats:
            info = s.info()
            side = read_sidecar(self.path)
            return IndexStats(
                backend=self.backend,
                location=str(self.path),
                points=int(info.points_count),
                segments=int(info.segments_count),
                indexed_points=int(side.get("optimized_points", 0)),
                extra={
                    "last_optimize_seconds": side.get("optimize_seconds"),
                    "optimize_at": self.optimize_at,
                    "migrated_from": side.get("migrated_from"),
                },
            )

        return await self._run(read, read=True)

    # -- plumbing --------------------------------------------------------------------------
    async def _submit(self, fn: Callable[[], T], *, read: bool = False) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._reads if read else self._executor, fn)
        except RuntimeError as exc:  # executor shut down: the index was closed
            raise VectorIndexUnavailable(f"vector index closed: {exc}") from exc

    async def _run(self, fn: Callable[[Any], T], *, read: bool = False) -> T:
        """`fn(shard)` off the event loop: on the write thread (in order), or with `read` on
        the search thread (Edge serves searches while an update or flush runs)."""
        build = self._build
        if build is not None:
            raise VectorIndexBuilding(
                f"the vector index is {build.describe()}. Uploads wait for it: send this one "
                f"again in {build.retry_after_s()} s",
                retry_after=build.retry_after_s(),
            )

        def call() -> T:
            shard = self._shard
            if shard is None:
                raise VectorIndexUnavailable(f"vector index not open: {self._error}")
            return fn(shard)

        try:
            return await self._submit(call, read=read)
        except VectorIndexUnavailable:
            raise
        except Exception as exc:
            raise VectorIndexUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc


def _hit(p: Any) -> VectorHit:
    payload = p.payload or {}
    return VectorHit(
        chunk_id=p.id if isinstance(p.id, uuid.UUID) else uuid.UUID(str(p.id)),
        document_id=uuid.UUID(payload["document_id"]),
        section_id=uuid.UUID(payload["section_id"]),
        granularity=payload["granularity"],
        score=float(p.score),
    )


def _filter(
    user_id: uuid.UUID | None,
    *,
    granularity: str | None = None,
    document_id: uuid.UUID | None = None,
) -> Any:
    e = _edge()
    must: list[Any] = []
    if user_id is not None:
        must.append(e.FieldCondition(key="user_id", match=e.MatchValue(str(user_id))))
    if granularity:
        must.append(e.FieldCondition(key="granularity", match=e.MatchValue(granularity)))
    if document_id is not None:
        must.append(e.FieldCondition(key="document_id", match=e.MatchValue(str(document_id))))
    return e.Filter(must=must)
