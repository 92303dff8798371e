"""`create_app(settings)`: the Litestar application, wired from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin

import morgan
from morgan.api.chat import ChatController
from morgan.api.config import ConfigController, debug
from morgan.api.deps import get_current_user
from morgan.api.documents import DocumentController
from morgan.api.emotion import EmotionController
from morgan.api.health import live, metrics, ready, status
from morgan.api.learning import LearningController
from morgan.api.openai import OpenAIController
from morgan.auth.outage import RecentTokens, build_revocations
from morgan.backpressure import ConcurrencyGate, gate_middleware, rate_limit_middleware
from morgan.errors import EXCEPTION_HANDLERS
from morgan.home import secure_home
from morgan.observability import Metrics, configure_logging, request_context_middleware
from morgan.openapi_doc import complete_openapi
from morgan.ratelimit import build_rate_limiter
from morgan.services import Services, build_services
from morgan.settings import Settings, load_settings
from morgan.shared_state import SharedRedis

log = structlog.get_logger(__name__)

MULTIPART_OVERHEAD = 1024 * 1024


def create_app(
    settings: Settings | None = None, *, migrate: bool = False, services: Services | None = None
) -> Litestar:
    settings = settings or load_settings()
    configure_logging(settings.server.log_level, settings.server.log_format)
    app_metrics = Metrics()
    # Rate limits and token revocations are shared by every replica when there is a Redis.
    shared = SharedRedis.from_cache_url(settings.cache.url)
    outage_ttl_s = settings.auth.outage_token_ttl_s
    revocations = build_revocations(shared, outage_ttl_s, settings.home)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = services is None
        if owned:
            secure_home(settings.home)  # before the database, vectors and blobs create files
        app.state.services = services or await build_services(settings, migrate=migrate)
        app.state.services.auth.revocations = revocations  # revoke/disable reach recent_tokens
        log.info(
            "morgan_started",
            version=morgan.__version__,
            mode=settings.server.mode,
            database=app.state.services.db.dialect,
        )
        try:
            yield
        finally:
            if owned:
                await app.state.services.close()
            if shared is not None:
                await shared.close()
            log.info("morgan_stopped")

    cors = None
    if settings.server.cors_origins:
        cors = CORSConfig(
            allow_origins=[o.strip() for o in settings.server.cors_origins.split(",")]
        )

    server = settings.server
    # The authenticated user is `user` in Morgan's routes but `caller` in the OpenAI routes:
    # Litestar treats a body error on a field named like a dependency as a server error, and
    # the OpenAI body has a `user` field.
    user_dependency = {"user": Provide(get_current_user)}
    routes = Router(
        path="/",
        route_handlers=[
            live,
            ready,
            metrics,
            status,
            ChatController,
            EmotionController,
            LearningController,
            ConfigController,
            debug,
        ],
        dependencies=user_dependency,
    )
    uploads = Router(  # the only route with a large body; JSON bodies get max_json_kb
        path="/",
        route_handlers=[DocumentController],
        dependencies=user_dependency,
        request_max_body_size=server.max_upload_mb * 1024 * 1024 + MULTIPART_OVERHEAD,
    )
    openai = Router(
        path="/",
        route_handlers=[OpenAIController],
        dependencies={"caller": Provide(get_current_user)},
    )
    chat_gate = ConcurrencyGate("chat", limit=server.chat_concurrency, queue=server.chat_queue)
    ingest_gate = ConcurrencyGate(
        "ingest", limit=server.ingest_concurrency, queue=server.ingest_queue
    )
    gates = {
        ("POST", "/api/chat"): chat_gate,
        ("POST", "/api/chat/stream"): chat_gate,
        ("POST", "/v1/chat/completions"): chat_gate,
        ("POST", "/api/ingest"): ingest_gate,
    }
    per_minute = server.rate_limit_per_minute
    windows = (
        {(m, p): build_rate_limiter(f"{m} {p}", per_minute, shared) for m, p in gates}
        if per_minute > 0
        else {}
    )
    app = Litestar(
        route_handlers=[routes, uploads, openai],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[
            request_context_middleware(app_metrics),
            rate_limit_middleware(windows),
            gate_middleware(gates),
        ],
        openapi_config=OpenAPIConfig(
            title="Morgan",
            version=morgan.__version__,
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        request_max_body_size=server.max_json_kb * 1024,
        cors_config=cors,
        debug=False,
    )
    complete_openapi(app.openapi_schema)  # errors, bearer auth, uploads, streams
    app.state.gates = gates
    app.state.recent_tokens = RecentTokens(outage_ttl_s, revocations)
    app.state.auth_failures = build_rate_limiter(
        "auth-failures", server.auth_failures_per_minute, shared
    )
    app.state.metrics = app_metrics
    app.state.settings = settings
    return app
