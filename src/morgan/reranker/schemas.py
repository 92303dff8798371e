"""Wire format of the reranker service, shared by the service and its client."""

from __future__ import annotations

import msgspec


class RerankRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`passages` holds 1..100 texts; `top_k` only shortens `order`, never `scores`."""

    query: str
    passages: list[str]
    top_k: int | None = None


class RerankResponse(msgspec.Struct, frozen=True):
    """`scores[i]` belongs to `passages[i]`; `order` lists passage indices, best first."""

    scores: list[float]
    order: list[int]
    model: str
    elapsed_ms: float


class ReadinessReport(msgspec.Struct, frozen=True):
    """`status` is ready, loading, no_model or failed; `detail` says why it is not ready."""

    status: str
    model: str
    providers: list[str] = []
    detail: str = ""
