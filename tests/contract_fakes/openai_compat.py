"""Contract fake of an OpenAI-compatible server (`/v1/chat/completions` with and without
server-sent events, `/v1/models`), following https://platform.openai.com/docs/api-reference/chat.

Shares the fault injection of the Ollama fake; errors use OpenAI's
`{"error": {"message": ..., "type": ...}}` body. `/v1/models` reports `max_model_len`
as vLLM does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from tests.contract_fakes._server import ECHO_PROMPT, FakeHTTPServer, Fault, echo_text, words

__all__ = ["ECHO_PROMPT", "FakeOpenAI"]


class FakeOpenAI(FakeHTTPServer):
    stream_content_type = "text/event-stream"

    def __init__(
        self,
        *,
        model: str = "qwen2.5-7b-instruct",
        max_model_len: int = 32768,
        reply: str = "The answer is in your notes [1].",
        api_key: str | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.max_model_len = max_model_len
        self.reply = reply
        self.api_key = api_key

    def fail_openai(self, path: str, status: int, message: str, *, times: int | None = 1) -> None:
        self.inject(
            path,
            Fault(
                "error",
                status=status,
                times=times,
                body={"error": {"message": message, "type": "server_error"}},
            ),
        )

    def error_line(self, body: Any) -> str:
        return f"data: {json.dumps(body)}\n\n"

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if self.api_key is not None:
            auth = self.requests[-1].headers.get("Authorization", "")
            if auth != f"Bearer {self.api_key}":
                return 401, {"error": {"message": "invalid api key", "type": "auth_error"}}
        if (method, path) == ("GET", "/v1/models"):
            return 200, {
                "object": "list",
                "data": [
                    {
                        "id": self.model,
                        "object": "model",
                        "created": 0,
                        "owned_by": "fake",
                        "max_model_len": self.max_model_len,
                    }
                ],
            }
        if (method, path) == ("POST", "/v1/chat/completions"):
            return self._chat(body or {})
        return 404, {"error": {"message": f"{method} {path} not found", "type": "not_found"}}

    def _chat(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("model") != self.model:
            return 404, {
                "error": {
                    "message": f"model {body.get('model')} does not exist",
                    "type": "not_found",
                }
            }
        text = echo_text(body) if self.reply == ECHO_PROMPT else self.reply
        created = int(time.time())
        if not body.get("stream"):
            return 200, {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": created,
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": len(list(words(text))),
                    "total_tokens": 10 + len(list(words(text))),
                },
            }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            payload = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload)}\n\n"

        def lines() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            for delta in words(text):
                yield chunk({"content": delta})
            yield chunk({}, "stop")
            yield "data: [DONE]\n\n"

        return 200, lines()
