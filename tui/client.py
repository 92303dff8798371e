"""An async HTTP client for the TUI; URL, token and error wording are shared with the CLI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import httpx

from morgan.chat.schemas import StreamEvent
from morgan.cli.client import (
    EXIT_UNREACHABLE,
    CLIError,
    check,
    parse_stream_line,
    resolve_connection,
)
from morgan.http_failures import HttpFailure, classify

ClientError: TypeAlias = CLIError
"""Raised for every failure; `.message` is written for the user, `.exit_code` says which kind."""


class FeedbackUnavailable(ClientError):
    """The server has no feedback route (an older server, or the learning module is off)."""

    def __init__(self) -> None:
        super().__init__("feedback not available on this server", 2)


class AsyncMorganClient:
    """One method per API call the TUI makes; every error becomes a `ClientError`."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        connection = resolve_connection(url, token)  # the local token goes only to its server
        self.url, self.token = connection.url, connection.token
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        check(response)
        return response.json() if response.content else None

    def _unreachable(self, exc: httpx.TransportError) -> ClientError:
        if classify(exc).timed_out:
            return ClientError(f"the Morgan server at {self.url} timed out", EXIT_UNREACHABLE)
        return ClientError(
            f"cannot reach the Morgan server at {self.url}; start it with `morgan serve`",
            EXIT_UNREACHABLE,
        )

    async def status(self) -> dict[str, Any]:
        return await self._json("GET", "/api/status")  # type: ignore[no-any-return]

    async def conversations(self, limit: int = 200, search: str = "") -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if search.strip():
            params["q"] = search.strip()
        return await self._json("GET", "/api/conversations", params=params)  # type: ignore[no-any-return]

    async def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return await self._json("GET", f"/api/conversations/{conversation_id}/messages")  # type: ignore[no-any-return]

    async def rename(self, conversation_id: str, title: str) -> dict[str, Any]:
        return await self._json(  # type: ignore[no-any-return]
            "PATCH", f"/api/conversations/{conversation_id}", json={"title": title}
        )

    async def delete(self, conversation_id: str) -> None:
        await self._json("DELETE", f"/api/conversations/{conversation_id}")

    async def feedback(self, message_id: str, rating: int, comment: str = "") -> None:
        body = {"message_id": message_id, "rating": rating, "comment": comment}
        try:
            response = await self.http.post("/api/feedback", json=body)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code == 405 or (
            response.status_code == 404 and _is_route_miss(response)
        ):
            raise FeedbackUnavailable()
        check(response)

    async def chat_stream(
        self, message: str, conversation_id: str | None = None, model: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        """Yields the typed NDJSON events (meta, tokens, done or error) as they arrive."""
        body: dict[str, Any] = {"message": message}
        if conversation_id:
            body["conversation_id"] = conversation_id
        if model:
            body["model"] = model
        try:
            async with self.http.stream("POST", "/api/chat/stream", json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    check(response)
                async for line in response.aiter_lines():
                    if line.strip():
                        yield parse_stream_line(line)
        except httpx.TransportError as exc:
            if classify(exc) is HttpFailure.PROTOCOL:
                raise ClientError(f"the server closed the stream early: {exc}", 5) from exc
            raise self._unreachable(exc) from exc


def _is_route_miss(response: httpx.Response) -> bool:
    """Litestar answers an unknown route with the bare detail "Not Found"; Morgan's own 404s say what."""
    try:
        body = response.json()
    except ValueError:
        return True
    return not isinstance(body, dict) or str(body.get("detail", "")).strip().lower() in (
        "",
        "not found",
    )


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
