"""The reranker service: a tiny Litestar app that serves one ONNX cross-encoder.

It runs as its own Deployment (onnxruntime-gpu on a GPU node) from the same image as Morgan.
The model loads in the background after start-up, so `/health/live` answers at once and
`/health/ready` turns 200 only when requests can be scored.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import structlog
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from morgan.reranker.base import (
    InvalidRerankRequest,
    RerankerModelError,
    rank_order,
    validate_rerank_request,
)
from morgan.reranker.onnx_cross_encoder import OnnxCrossEncoder, find_model_file
from morgan.reranker.schemas import ReadinessReport, RerankRequest, RerankResponse

log = structlog.get_logger(__name__)


class _Metrics:
    """Per-app registry, so several apps (tests, benchmarks) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "morgan_reranker_requests",
            "Rerank requests by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.passages = Counter(
            "morgan_reranker_passages", "Passages scored.", registry=self.registry
        )
        self.latency = Histogram(
            "morgan_reranker_request_seconds",
            "Time to score one request.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.ready = Gauge(
            "morgan_reranker_model_ready", "1 once the model is loaded.", registry=self.registry
        )


class RerankerModelState:
    """The encoder plus where its loading stands; `ready` is set once loading has finished
    either way, so callers in any thread can wait for it."""

    def __init__(self, encoder: OnnxCrossEncoder, *, model_poll_s: float | None = None) -> None:
        self.encoder = encoder
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.error: str | None = None
        self.missing_model = False
        self.model_poll_s = model_poll_s
        self.metrics = _Metrics()

    @property
    def status(self) -> str:
        if self.missing_model and not self.ready.is_set():
            return "no_model"
        if not self.ready.is_set():
            return "loading"
        return "failed" if self.error is not None else "ready"

    def _wait_for_model_file(self) -> bool:
        """With `model_poll_s`, an empty model folder is a state, not a crash: stay up and
        unready (status `no_model`), and load once `morgan reranker fetch` has filled it."""
        while True:
            try:
                find_model_file(self.encoder.model_dir)
            except RerankerModelError as error:
                if self.model_poll_s is None:
                    return True  # warm_up reports it as `failed`
                if not self.missing_model:
                    log.warning("reranker.service.no_model", detail=str(error))
                self.missing_model, self.error = True, str(error)
                if self.stopping.wait(self.model_poll_s):
                    return False
                continue
            self.missing_model, self.error = False, None
            return True

    def load(self) -> None:
        """Blocking; records a failure instead of raising so the service stays observable."""
        try:
            if not self._wait_for_model_file():
                return
            self.encoder.warm_up()
        except Exception as error:  # noqa: BLE001 - any load failure must show in /health/ready
            self.error = str(error)
            log.error("reranker.service.load_failed", error=self.error)
        else:
            self.metrics.ready.set(1)
        finally:
            self.ready.set()

    def report(self) -> ReadinessReport:
        providers = self.encoder.active_providers if self.status == "ready" else []
        return ReadinessReport(
            status=self.status,
            model=self.encoder.model_name,
            providers=providers,
            detail=self.error or "",
        )


def _state(request: Request) -> RerankerModelState:
    return request.app.state.reranker


@post("/rerank", status_code=200)
async def rerank(request: Request) -> RerankResponse:
    """Score every passage against the query; 422 for a bad request, 503 until loaded."""
    state = _state(request)
    started = time.perf_counter()
    try:
        body = msgspec.json.decode(await request.body(), type=RerankRequest)
        validate_rerank_request(body.query, body.passages)
        if body.top_k is not None and body.top_k < 1:
            raise InvalidRerankRequest(f"top_k must be at least 1, got {body.top_k}")
    except (msgspec.DecodeError, InvalidRerankRequest) as error:
        state.metrics.requests.labels("invalid").inc()
        raise HTTPException(
            status_code=HTTP_422_UNPROCESSABLE_ENTITY, detail=f"invalid rerank request: {error}"
        ) from error
    if state.status != "ready":
        state.metrics.requests.labels("unavailable").inc()
        detail = f"model {state.status}" + (f": {state.error}" if state.error else "")
        raise HTTPException(status_code=HTTP_503_SERVICE_UNAVAILABLE, detail=detail)
    try:
        scores = await asyncio.to_thread(state.encoder.score, body.query, body.passages)
    except Exception:
        state.metrics.requests.labels("error").inc()
        log.exception("reranker.service.score_failed", passages=len(body.passages))
        raise
    elapsed = time.perf_counter() - started
    state.metrics.requests.labels("ok").inc()
    state.metrics.passages.inc(len(body.passages))
    state.metrics.latency.observe(elapsed)
    return RerankResponse(
        scores=scores,
        order=rank_order(scores, body.top_k),
        model=state.encoder.model_name,
        elapsed_ms=round(elapsed * 1000, 3),
    )


@get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@get("/health/ready")
async def ready(request: Request) -> Response[ReadinessReport]:
    state = _state(request)
    code = 200 if state.status == "ready" else HTTP_503_SERVICE_UNAVAILABLE
    return Response(state.report(), status_code=code)


@get("/metrics")
async def metrics(request: Request) -> Response[bytes]:
    registry = _state(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def create_reranker_app(
    model_dir: str | Path | None = None,
    *,
    max_length: int = 512,
    batch_size: int = 32,
    providers: Sequence[str] | None = None,
    encoder: OnnxCrossEncoder | None = None,
    model_poll_s: float | None = None,
) -> Litestar:
    """Build the service for the model in `model_dir` (or a ready-made `encoder`).

    Loading starts on application start-up in a worker thread; `app.state.reranker`
    (`RerankerModelState`) exposes its progress.
    """
    if encoder is None:
        if model_dir is None:
            raise ValueError("create_reranker_app needs model_dir or encoder")
        encoder = OnnxCrossEncoder(
            model_dir, max_length=max_length, batch_size=batch_size, providers=providers
        )
    state = RerankerModelState(encoder, model_poll_s=model_poll_s)

    @asynccontextmanager
    async def load_in_background(app: Litestar) -> AsyncIterator[None]:
        loading = asyncio.create_task(asyncio.to_thread(state.load))
        try:
            yield
        finally:
            state.stopping.set()
            if not loading.done():
                # The thread cannot be interrupted; stop waiting for it and let it finish.
                loading.cancel()

    app = Litestar(
        route_handlers=[rerank, live, ready, metrics],
        lifespan=[load_in_background],
        openapi_config=None,
    )
    app.state.reranker = state
    return app
