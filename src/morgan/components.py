"""Shared vocabulary for reporting the state of a pluggable dependency.

Every backend (database, vectors, cache, blobs, embeddings, LLM, reranker, emotion) reports
itself with the same struct so `/api/status`, `/health/ready`, `/metrics` and the
`degraded` field of a chat answer never disagree.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import msgspec

State = Literal["up", "down", "off", "degraded"]


class ComponentHealth(msgspec.Struct, frozen=True):
    """One dependency's state. `off` means not configured (never faked), `down` means failing."""

    name: str
    backend: str
    state: State
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in ("up", "off")


@runtime_checkable
class HealthReport(Protocol):
    """What `/health/ready`, `/metrics` and `/api/status` read: every component's state, and
    whether the server can serve (`morgan.services.Services` is the implementation)."""

    async def component_health(self) -> list[ComponentHealth]: ...

    def is_ready(self, components: list[ComponentHealth]) -> bool: ...
