"""Client for the separate reranker service (the GPU pod in the cluster)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import msgspec
import structlog

from morgan.components import ComponentHealth
from morgan.http_failures import classify
from morgan.reranker.base import (
    InvalidRerankRequest,
    RerankerUnavailable,
    validate_rerank_request,
)
from morgan.reranker.schemas import ReadinessReport, RerankRequest, RerankResponse

log = structlog.get_logger(__name__)


class HttpReranker:
    """Calls `POST /rerank` on the reranker service.

    Anything that means "the service cannot answer now" (refused connection, timeout, 5xx,
    a malformed answer) becomes `RerankerUnavailable`; a request the service rejects as
    invalid (422) becomes `InvalidRerankRequest`.
    """

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 5.0,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.name = f"http:{self.base_url}"
        self._client = client
        self._owns_client = client is None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url, timeout=httpx.Timeout(self.timeout_s)
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        validate_rerank_request(query, passages)
        body = msgspec.json.encode(RerankRequest(query=query, passages=list(passages)))
        try:
            response = await self._http().post(
                "/rerank", content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as error:
            failure = classify(error)
            if failure.timed_out:
                raise RerankerUnavailable(
                    f"reranker at {self.base_url} did not answer within {self.timeout_s}s"
                ) from error
            if failure.transport:
                raise RerankerUnavailable(
                    f"cannot reach reranker at {self.base_url}: {error!r}"
                ) from error
            raise
        if response.status_code == 422:
            raise InvalidRerankRequest(_detail(response))
        if response.status_code != 200:
            raise RerankerUnavailable(
                f"reranker at {self.base_url} answered {response.status_code}: {_detail(response)}"
            )
        try:
            answer = msgspec.json.decode(response.content, type=RerankResponse)
        except msgspec.DecodeError as error:
            raise RerankerUnavailable(f"reranker sent a malformed answer: {error}") from error
        if len(answer.scores) != len(passages):
            raise RerankerUnavailable(
                f"reranker sent {len(answer.scores)} scores for {len(passages)} passages"
            )
        return answer.scores

    async def health(self) -> ComponentHealth:
        try:
            response = await self._http().get("/health/ready")
        except httpx.HTTPError as error:
            return ComponentHealth(
                "reranker", "http", "down", f"cannot reach {self.base_url}: {error!r}"
            )
        try:
            report = msgspec.json.decode(response.content, type=ReadinessReport)
        except msgspec.DecodeError:
            return ComponentHealth(
                "reranker", "http", "down", f"{self.base_url} answered {response.status_code}"
            )
        if response.status_code == 200 and report.status == "ready":
            detail = f"{report.model} on {','.join(report.providers)} at {self.base_url}"
            return ComponentHealth("reranker", "http", "up", detail)
        return ComponentHealth(
            "reranker", "http", "down", f"{report.status}: {report.detail}".rstrip(": ")
        )


def _detail(response: httpx.Response) -> str:
    """The service's error message (Litestar puts it in `detail`), else the raw text."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(payload, dict) and "detail" in payload:
        return str(payload["detail"])
    return response.text[:500]
