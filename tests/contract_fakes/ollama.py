"""Contract fake of the Ollama HTTP API (https://github.com/ollama/ollama/blob/main/docs/api.md).

It serves `/api/chat` (NDJSON stream and single JSON), `/api/embed`, `/api/tags`,
`/api/show` and `/api/pull` with the documented field names, records every request (so
tests can assert `options.num_ctx` was sent), and injects faults: an error status with
Ollama's `{"error": "..."}` body (e.g. CUDA out of memory), an error line mid-stream, a
response slower than the client's timeout, and a mid-stream disconnect.

    with FakeOllama(reply="Paris [1].") as ollama:
        ollama.fail("/api/chat", 500, "CUDA error: out of memory")
        llm = OllamaLLM(ollama.base_url, "llama3.2")
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.contract_fakes._server import ECHO_PROMPT, FakeHTTPServer, Fault, echo_text, words

__all__ = ["ECHO_PROMPT", "FakeOllama", "FakeOllamaModel", "Fault"]

CUDA_OOM = "CUDA error: out of memory - current device: 0, in function ggml_cuda_op"


@dataclass
class FakeOllamaModel:
    name: str
    architecture: str = "llama"
    context_length: int = 131072
    family: str = "llama"
    parameter_size: str = "3.2B"
    quantization_level: str = "Q4_K_M"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _full_name(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


class FakeOllama(FakeHTTPServer):
    def __init__(
        self,
        *,
        models: list[FakeOllamaModel] | None = None,
        reply: str = "The answer is in your notes [1].",
        embedding_dimension: int = 8,
        pullable: tuple[str, ...] = ("nomic-embed-text", "qwen2.5:0.5b"),
    ) -> None:
        super().__init__()
        self.models = {
            _full_name(m.name): m
            for m in (
                models
                or [
                    FakeOllamaModel("llama3.2"),
                    FakeOllamaModel(
                        "nomic-embed-text", "nomic-bert", 2048, "nomic-bert", "137M", "F16"
                    ),
                ]
            )
        }
        self.reply = reply
        self.embedding_dimension = embedding_dimension
        self.pullable = {_full_name(n) for n in pullable}

    # -- routing -------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        routes = {
            ("POST", "/api/chat"): self._chat,
            ("POST", "/api/embed"): self._embed,
            ("GET", "/api/tags"): self._tags,
            ("POST", "/api/show"): self._show,
            ("POST", "/api/pull"): self._pull,
        }
        route = routes.get((method, path))
        if route is None:
            return 404, {"error": f"{method} {path} not found"}
        return route(body or {})

    def _model(self, body: dict[str, Any]) -> FakeOllamaModel | None:
        return self.models.get(_full_name(str(body.get("model") or body.get("name") or "")))

    @staticmethod
    def _not_found(body: dict[str, Any]) -> tuple[int, Any]:
        return 404, {"error": f'model "{body.get("model")}" not found, try pulling it first'}

    # -- endpoints -----------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> tuple[int, Any]:
        model = self._model(body)
        if model is None:
            return self._not_found(body)
        options = body.get("options") or {}
        text = echo_text(body) if self.reply == ECHO_PROMPT else self.reply
        if options.get("num_predict"):
            text = " ".join(text.split(" ")[: int(options["num_predict"])])
        prompt_tokens = sum(len(m.get("content", "")) for m in body.get("messages", [])) // 4
        final = {
            "model": body["model"],
            "created_at": _now(),
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "total_duration": 1_000_000,
            "load_duration": 10_000,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 100_000,
            "eval_count": len(list(words(text))),
            "eval_duration": 500_000,
        }
        if body.get("stream", True) is False:
            return 200, {**final, "message": {"role": "assistant", "content": text}}

        def lines() -> Iterator[str]:
            for delta in words(text):
                yield (
                    json.dumps(
                        {
                            "model": body["model"],
                            "created_at": _now(),
                            "message": {"role": "assistant", "content": delta},
                            "done": False,
                        }
                    )
                    + "\n"
                )
            yield json.dumps(final) + "\n"

        return 200, lines()

    def embedding(self, text: str) -> list[float]:
        """Deterministic, deliberately not unit-length (the client must normalise)."""
        digest = hashlib.sha256(text.encode()).digest()
        return [(digest[i % len(digest)] - 127.5) / 10.0 for i in range(self.embedding_dimension)]

    def _embed(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self._model(body) is None:
            return self._not_found(body)
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        return 200, {
            "model": body["model"],
            "embeddings": [self.embedding(t) for t in texts],
            "total_duration": 1000,
            "load_duration": 10,
            "prompt_eval_count": sum(math.ceil(len(t) / 4) for t in texts),
        }

    def _tags(self, _body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {
            "models": [
                {
                    "name": name,
                    "model": name,
                    "modified_at": "2025-01-01T00:00:00Z",
                    "size": 2_019_393_189,
                    "digest": hashlib.sha256(name.encode()).hexdigest(),
                    "details": {
                        "parent_model": "",
                        "format": "gguf",
                        "family": m.family,
                        "families": [m.family],
                        "parameter_size": m.parameter_size,
                        "quantization_level": m.quantization_level,
                    },
                }
                for name, m in self.models.items()
            ]
        }

    def _show(self, body: dict[str, Any]) -> tuple[int, Any]:
        model = self._model(body)
        if model is None:
            return self._not_found(body)
        arch = model.architecture
        return 200, {
            "modelfile": f"FROM {model.name}\n",
            "parameters": "",
            "template": "{{ .Prompt }}",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": model.family,
                "families": [model.family],
                "parameter_size": model.parameter_size,
                "quantization_level": model.quantization_level,
            },
            "model_info": {
                "general.architecture": arch,
                "general.parameter_count": 3_212_749_888,
                f"{arch}.context_length": model.context_length,
                f"{arch}.embedding_length": 3072,
                f"{arch}.block_count": 28,
            },
            "capabilities": ["completion"],
            "modified_at": "2025-01-01T00:00:00Z",
        }

    def _pull(self, body: dict[str, Any]) -> tuple[int, Any]:
        name = _full_name(str(body.get("model") or body.get("name") or ""))
        if name not in self.pullable and name not in self.models:
            return 500, {"error": "pull model manifest: file does not exist"}
        digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
        total = 3000

        def lines() -> Iterator[str]:
            yield json.dumps({"status": "pulling manifest"}) + "\n"
            for completed in (0, 1000, 2000, 3000):
                yield (
                    json.dumps(
                        {
                            "status": f"pulling {digest[7:19]}",
                            "digest": digest,
                            "total": total,
                            "completed": completed,
                        }
                    )
                    + "\n"
                )
            for status in ("verifying sha256 digest", "writing manifest", "success"):
                yield json.dumps({"status": status}) + "\n"
            self.models.setdefault(name, FakeOllamaModel(name.split(":")[0]))

        if body.get("stream", True) is False:
            list(lines())
            return 200, {"status": "success"}
        return 200, lines()
