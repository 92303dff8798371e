"""`create_app(settings)`: the Litestar application, wired from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin

import morgan
from morgan.api.chat import ChatController
from morgan.api.deps import get_current_user, get_services
from morgan.api.documents import DocumentController
from morgan.api.emotion import EmotionController
from morgan.api.health import live, metrics, ready, status
from morgan.api.learning import LearningController
from morgan.api.openai import OpenAIController
from morgan.errors import EXCEPTION_HANDLERS
from morgan.observability import Metrics, configure_logging, request_context_middleware
from morgan.services import Services, build_services
from morgan.settings import Settings, load_settings

log = structlog.get_logger(__name__)

MULTIPART_OVERHEAD = 1024 * 1024


def create_app(
    settings: Settings | None = None, *, migrate: bool = False, services: Services | None = None
) -> Litestar:
    settings = settings or load_settings()
    configure_logging(settings.server.log_level, settings.server.log_format)
    app_metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or await build_services(settings, migrate=migrate)
        log.info("morgan_started", version=morgan.__version__, mode=settings.server.mode,
                 database=app.state.services.db.dialect)
        try:
            yield
        finally:
            if owned:
                await app.state.services.close()
            log.info("morgan_stopped")

    cors = None
    if settings.server.cors_origins:
        cors = CORSConfig(allow_origins=[o.strip() for o in settings.server.cors_origins.split(",")])

    app = Litestar(
        route_handlers=[
            live, ready, metrics, status, DocumentController, ChatController, EmotionController,
            LearningController, OpenAIController,
        ],
        dependencies={
            "services": Provide(get_services, sync_to_thread=False),
            "user": Provide(get_current_user),
        },
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[request_context_middleware(app_metrics)],
        openapi_config=OpenAPIConfig(
            title="Morgan", version=morgan.__version__, path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        request_max_body_size=settings.server.max_upload_mb * 1024 * 1024 + MULTIPART_OVERHEAD,
        cors_config=cors,
        debug=False,
    )
    app.state.metrics = app_metrics
    app.state.settings = settings
    return app
