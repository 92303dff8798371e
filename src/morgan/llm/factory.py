"""Pick an LLM backend from a URL, so settings hold one string per model.

| URL                                   | backend                                 |
|---------------------------------------|-----------------------------------------|
| `ollama://host:11434`                 | Ollama over http                        |
| `ollama+https://host`                 | Ollama over https                       |
| `openai+http://host:8000/v1`          | OpenAI-compatible (`openai+https` too)  |
| `http(s)://host:port` + `kind=`       | `kind="ollama"` (default) or `"openai"` |
| `embedded://gemma3-270m`              | the bundled GGUF model on CPU           |
| `embedded:///path/to/model.gguf`      | another local GGUF file                 |
| `extractive://`                       | quoted sentences, no model              |

`model` names the model on the server; embedded and extractive backends ignore it.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from morgan.llm.base import LLM, Embedder
from morgan.llm.extractive import ExtractiveLLM
from morgan.llm.fallback import FallbackLLM
from morgan.llm.ollama import OllamaEmbedder, OllamaLLM
from morgan.llm.openai_compat import OpenAICompatibleLLM

BUNDLED_EMBEDDED_MODEL = "gemma3-270m"


class UnsupportedLLMUrl(ValueError):
    pass


def _http_url(scheme: str, url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def build_llm(
    url: str,
    model: str = "",
    *,
    kind: Literal["ollama", "openai"] = "ollama",
    api_key: str | None = None,
    timeout_s: float = 60.0,
    num_ctx: int | None = None,
    **options: Any,
) -> LLM:
    """Build one backend from its URL; `options` go to the backend's constructor."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "extractive":
        return ExtractiveLLM(**options)
    if scheme == "embedded":
        from morgan.llm.embedded import EmbeddedGGUFLLM  # heavy imports stay lazy

        parts = urlsplit(url)
        if parts.netloc in ("", BUNDLED_EMBEDDED_MODEL) and not parts.path.strip("/"):
            return EmbeddedGGUFLLM(n_ctx=num_ctx, **options)
        if parts.netloc and parts.netloc != BUNDLED_EMBEDDED_MODEL:
            raise UnsupportedLLMUrl(
                f"unknown embedded model {parts.netloc!r} in {url!r}; "
                f"use embedded://{BUNDLED_EMBEDDED_MODEL} or "
                "embedded:///path/to/file.gguf"
            )
        return EmbeddedGGUFLLM(model_path=parts.path, n_ctx=num_ctx, **options)
    if not model:
        raise UnsupportedLLMUrl(f"{url!r} needs a model name")
    if scheme in ("ollama", "ollama+http", "ollama+https") or (
        scheme in ("http", "https") and kind == "ollama"
    ):
        http_scheme = "https" if scheme.endswith("https") else "http"
        return OllamaLLM(
            _http_url(http_scheme, url), model, num_ctx=num_ctx, timeout_s=timeout_s, **options
        )
    if scheme in ("openai+http", "openai+https") or (
        scheme in ("http", "https") and kind == "openai"
    ):
        http_scheme = "https" if scheme.endswith("https") else "http"
        return OpenAICompatibleLLM(
            _http_url(http_scheme, url),
            model,
            api_key,
            context_window=num_ctx,
            timeout_s=timeout_s,
            **options,
        )
    raise UnsupportedLLMUrl(f"unsupported LLM url {url!r}")


def build_fallback_llm(main: LLM, *more: LLM, extractive_last: bool = True) -> FallbackLLM:
    """main → fast → … → extractive, the chain behind `degraded: ["llm"]`."""
    chain = [main, *more]
    if extractive_last and not any(isinstance(b, ExtractiveLLM) for b in chain):
        chain.append(ExtractiveLLM())
    return FallbackLLM(chain)


def build_embedder(url: str, model: str, **options: Any) -> Embedder:
    """Ollama embedders only; the in-process MiniLM embedder is built by its own module."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("ollama", "ollama+http", "ollama+https", "http", "https"):
        http_scheme = "https" if scheme.endswith("https") else "http"
        return OllamaEmbedder(_http_url(http_scheme, url), model, **options)
    raise UnsupportedLLMUrl(f"unsupported embedder url {url!r}")
