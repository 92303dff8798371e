"""Liveness, readiness, Prometheus metrics and the status report."""

from __future__ import annotations

import hmac
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, get
from litestar.datastructures import State
from prometheus_client import generate_latest

import morgan
from morgan.api import providers
from morgan.auth import AuthService, CurrentUser
from morgan.chat.conversations import ConversationRepository
from morgan.components import ComponentHealth, HealthReport
from morgan.errors import Unauthorized, as_morgan_error
from morgan.rag.documents import DocumentRepository
from morgan.settings import Settings


class ReadyOut(msgspec.Struct):
    ready: bool
    components: list[ComponentHealth]


class StatusOut(msgspec.Struct):
    version: str
    mode: str
    user: str
    components: list[ComponentHealth]
    degraded: list[str]
    counts: dict[str, int]


@get("/health/live", sync_to_thread=False, tags=["health"])
def live() -> dict[str, str]:
    return {"status": "alive"}


@get(
    "/health/ready",
    tags=["health"],
    dependencies={
        "health": providers.health,
        "settings": providers.settings,
        "auth": providers.auth,
    },
)
async def ready(
    health: HealthReport, settings: Settings, auth: AuthService, request: Request[Any, Any, Any]
) -> Response[ReadyOut]:
    """Unauthenticated callers see names and states only: backends and details name hosts."""
    components = await health.component_health()
    ok = health.is_ready(components)
    if not (settings.server.ready_details or await _authenticated(auth, request)):
        components = [ComponentHealth(c.name, "", c.state) for c in components]
    return Response(ReadyOut(ready=ok, components=components), status_code=200 if ok else 503)


async def _authenticated(auth: AuthService, request: Request[Any, Any, Any]) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        await auth.authenticate(token.strip())
    except Exception:  # noqa: BLE001 - invalid token or database down: the short answer
        return False
    return True


@get(
    "/metrics",
    media_type=MediaType.TEXT,
    tags=["health"],
    dependencies={"health": providers.health, "settings": providers.settings},
)
async def metrics(
    health: HealthReport, settings: Settings, state: State, request: Request[Any, Any, Any]
) -> Response[bytes]:
    expected = settings.server.metrics_token
    if expected:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
            raise Unauthorized("/metrics needs `Authorization: Bearer <MORGAN_METRICS_TOKEN>`")
    gauge = state.metrics.dependency_up
    for c in await health.component_health():
        gauge.labels(c.name, c.backend).set(1 if c.ok else 0)
    return Response(
        generate_latest(state.metrics.registry),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )


@get(
    "/api/status",
    tags=["status"],
    dependencies={
        "health": providers.health,
        "settings": providers.settings,
        "documents": providers.documents,
        "conversations": providers.conversations,
    },
)
async def status(
    health: HealthReport,
    settings: Settings,
    documents: DocumentRepository,
    conversations: ConversationRepository,
    user: CurrentUser,
) -> StatusOut:
    components = await health.component_health()
    counts: dict[str, int] = {}
    try:
        docs, chunks = await documents.count(user.id)
        talks = await conversations.count(user.id)
        counts = {"documents": docs, "chunks": chunks, "conversations": talks}
    except Exception as exc:
        if as_morgan_error(exc) is None:
            raise
        # The database is down: status still answers, showing it in components/degraded.
    return StatusOut(
        version=morgan.__version__,
        mode=settings.server.mode,
        user=user.name,
        components=components,
        degraded=[c.name for c in components if c.state in ("down", "degraded")],
        counts=counts,
    )
