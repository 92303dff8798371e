"""Liveness, readiness, Prometheus metrics and the status report."""

from __future__ import annotations


import msgspec
from litestar import MediaType, Response, get
from litestar.datastructures import State
from prometheus_client import generate_latest

import morgan
from morgan.auth import CurrentUser
from morgan.components import ComponentHealth
from morgan.services import Services


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


@get("/health/ready", tags=["health"])
async def ready(services: Services) -> Response[ReadyOut]:
    components = await services.component_health()
    ok = services.is_ready(components)
    return Response(ReadyOut(ready=ok, components=components), status_code=200 if ok else 503)


@get("/metrics", media_type=MediaType.TEXT, tags=["health"])
async def metrics(services: Services, state: State) -> Response[bytes]:
    gauge = state.metrics.dependency_up
    for c in await services.component_health():
        gauge.labels(c.name, c.backend).set(1 if c.ok else 0)
    return Response(
        generate_latest(state.metrics.registry),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )


@get("/api/status", tags=["status"])
async def status(services: Services, user: CurrentUser) -> StatusOut:
    components = await services.component_health()
    docs, chunks = await services.documents.count(user.id)
    conversations = await services.conversations.count(user.id)
    return StatusOut(
        version=morgan.__version__,
        mode=services.settings.server.mode,
        user=user.name,
        components=components,
        degraded=[c.name for c in components if c.state in ("down", "degraded")],
        counts={"documents": docs, "chunks": chunks, "conversations": conversations},
    )


