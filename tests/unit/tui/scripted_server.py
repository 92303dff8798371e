"""A scripted Morgan server on an httpx transport, for what a fast real server cannot show.

Snapshots need fixed text (no timestamps or fresh ids on screen), the cancel test needs a stream
that never ends, and the evidence test needs an answer with evidence before the server writes
any. The stream events are the shared msgspec types, encoded as the API encodes them, so the
wire format under test is the real one; the client, app and widgets are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec

from morgan.chat.schemas import (
    ChatResponse,
    DoneEvent,
    EmotionOut,
    MetaData,
    MetaEvent,
    SourceOut,
    TokenData,
    TokenEvent,
)
from tui.app import MorganChatApp
from tui.client import AsyncMorganClient

CONVERSATION = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
MESSAGE = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
DOCUMENT = "9a1d2c3b-0000-4000-8000-000000000001"
URL = "http://morgan.test"

STATUS = {
    "version": "0.1.0",
    "mode": "embedded",
    "user": "ada",
    "components": [
        {"name": "database", "backend": "sqlite", "state": "up", "detail": ""},
        {"name": "llm", "backend": "extractive", "state": "up", "detail": "extractive"},
        {"name": "reranker", "backend": "in-process", "state": "down", "detail": "no model"},
    ],
    "degraded": ["reranker"],
    "counts": {"documents": 3, "chunks": 42, "conversations": 2},
}
CONVERSATIONS = [
    {
        "id": CONVERSATION,
        "title": "How often should I water tomatoes?",
        "created_at": "2026-03-01T09:00:00+00:00",
        "updated_at": "2026-03-01T09:05:00+00:00",
        "messages": 2,
    },
    {
        "id": "2c7f1e4a-3b0d-4e59-9a1f-5d6e7f809a1b",
        "title": "Aphids on roses",
        "created_at": "2026-02-27T18:00:00+00:00",
        "updated_at": "2026-02-27T18:02:00+00:00",
        "messages": 4,
    },
]
SOURCES = [
    SourceOut(
        n=1,
        document_id=uuid.UUID(DOCUMENT),
        title="Garden guide",
        chunk_index=3,
        page=4,
        heading="Garden guide > Watering",
        score=0.912,
        snippet="Water tomatoes deeply twice a week, early in the morning, so the leaves dry by noon.",
    ),
    SourceOut(
        n=2,
        document_id=uuid.UUID(DOCUMENT),
        title="Garden guide",
        chunk_index=7,
        page=9,
        heading="Garden guide > Pests",
        score=0.401,
        snippet="Aphids on roses can be washed off with a mild solution of soapy water.",
    ),
]
EMOTION = EmotionOut(label="nervousness", intensity=0.62, ekman="fear")
ANSWER = "Water tomatoes **deeply twice a week**, early in the morning [1]."
TOKENS = ["Water tomatoes ", "**deeply twice a week**", ", early in the morning [1]."]
EVIDENCE = [
    {
        "n": 1,
        "text": "Water tomatoes deeply twice a week, early in the morning, so the leaves dry by noon.",
        "page": 4,
        "heading": "Watering",
        "document_id": DOCUMENT,
        "score": 0.91,
    }
]


class ScriptedServer:
    """Fixed answers; `hang` keeps the chat stream open after the first token."""

    def __init__(
        self,
        *,
        hang: bool = False,
        feedback_status: int = 201,
        safety: bool = False,
        degraded: tuple[str, ...] = (),
    ) -> None:
        self.hang = hang
        self.feedback_status = feedback_status
        self.safety = safety
        self.degraded = list(degraded)
        self.token_sent = asyncio.Event()
        self.stream_closed = asyncio.Event()
        self.requests: list[httpx.Request] = []

    def response(self) -> dict[str, Any]:
        body = msgspec.to_builtins(
            ChatResponse(
                conversation_id=uuid.UUID(CONVERSATION),
                message_id=uuid.UUID(MESSAGE),
                text=ANSWER,
                emotion=EMOTION,
                sources=SOURCES,
                degraded=self.degraded,
                timings={"total_ms": 812.0},
                model="extractive",
                tone="gentle",
            )
        )
        # Fields a newer server adds; the client must read them when there and cope when not.
        body["evidence"] = EVIDENCE
        body["safety"] = self.safety
        return body  # type: ignore[no-any-return]

    async def _events(self) -> AsyncIterator[bytes]:
        encode = msgspec.json.encode
        meta = MetaEvent(
            data=MetaData(
                conversation_id=uuid.UUID(CONVERSATION),
                sources=SOURCES,
                emotion=EMOTION,
                tone="gentle",
            )
        )
        try:
            yield encode(meta) + b"\n"
            for i, piece in enumerate(TOKENS):
                yield encode(TokenEvent(data=TokenData(text=piece))) + b"\n"
                if i == 0:
                    self.token_sent.set()
                    if self.hang:
                        await asyncio.Event().wait()  # a long answer: never finishes by itself
            # By hand, not DoneEvent, so the newer fields stay on the wire whatever ChatResponse has.
            yield json.dumps(
                {"event": DoneEvent.kind, "data": {"response": self.response()}}
            ).encode()
            yield b"\n"
        finally:
            self.stream_closed.set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/api/status":
            return httpx.Response(200, json=STATUS)
        if path == "/api/conversations":
            q = request.url.params.get("q", "").lower()
            return httpx.Response(
                200, json=[c for c in CONVERSATIONS if q in str(c["title"]).lower()]
            )
        if path == f"/api/conversations/{CONVERSATION}/messages":
            return httpx.Response(200, json=self.history())
        if path == "/api/chat/stream":
            return httpx.Response(200, content=self._events())
        if path == "/api/feedback":
            body = {"detail": "Not Found"} if self.feedback_status == 404 else {}
            return httpx.Response(self.feedback_status, json=body)
        return httpx.Response(404, json={"detail": "Not Found"})

    def history(self) -> list[dict[str, Any]]:
        common = {"error": None, "degraded": [], "timings": {}, "created_at": "2026-03-01T09:05:00"}
        return [
            {
                **common,
                "id": str(uuid.UUID(int=1)),
                "role": "user",
                "status": "ok",
                "model": None,
                "content": "How often should I water tomatoes?",
                "sources": [],
            },
            {
                **common,
                "id": MESSAGE,
                "role": "assistant",
                "status": "ok",
                "model": "extractive",
                "content": ANSWER,
                "sources": msgspec.to_builtins(SOURCES),
            },
        ]


def app_for(server: ScriptedServer, **kwargs: Any) -> MorganChatApp:
    client = AsyncMorganClient(URL, "mgn_x", transport=httpx.MockTransport(server))
    return MorganChatApp(client, **kwargs)
