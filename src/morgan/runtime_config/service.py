"""Validation and live reads of runtime settings; the API and the chat pipeline use only this."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import structlog

from morgan.errors import BadRequest, NotFound
from morgan.runtime_config.keys import KEYS, KeySpec

log = structlog.get_logger(__name__)

ModelLister = Callable[[], Awaitable[list[str]]]


class ConfigEntry(msgspec.Struct, kw_only=True):
    key: str
    value: Any
    """The effective value: the runtime one when set, else the default (None = decided per
    answer, e.g. temperature by the tone policy)."""
    source: str
    """`runtime` (set with `morgan config set`) or `default`."""
    default: Any
    help: str
    updated_at: str | None = None


class LLMOverrides(msgspec.Struct, frozen=True, kw_only=True):
    """What the chat pipeline applies to a GenerationRequest; None keeps its own choice."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    model: str | None = None


class RuntimeConfigService:
    def __init__(
        self,
        store: Any,
        *,
        defaults: dict[str, Any] | None = None,
        list_models: ModelLister | None = None,
        backend: str = "",
    ) -> None:
        self.store = store
        self.defaults = defaults or {}
        self.list_models = list_models
        self.backend = backend

    def spec(self, key: str) -> KeySpec:
        spec = KEYS.get(key.strip().lower())
        if spec is None:
            raise NotFound(f"unknown setting {key!r}; known: {', '.join(sorted(KEYS))}")
        return spec

    async def list(self) -> list[ConfigEntry]:
        rows = await self.store.all()
        return [self._entry(spec, rows.get(spec.key)) for spec in KEYS.values()]

    async def get(self, key: str) -> ConfigEntry:
        spec = self.spec(key)
        return self._entry(spec, (await self.store.all()).get(spec.key))

    async def set(self, key: str, raw: Any, *, updated_by: Any = None) -> ConfigEntry:
        spec = self.spec(key)
        value = spec.parse(raw)
        if spec.needs_models:
            await self._check_model(value)
        await self.store.put(spec.key, value, updated_by=updated_by)
        log.info("runtime_setting_changed", key=spec.key)
        return await self.get(spec.key)

    async def delete(self, key: str) -> ConfigEntry:
        """Back to the default; NotFound when the key was not set (nothing to delete)."""
        spec = self.spec(key)
        if not await self.store.remove(spec.key):
            raise NotFound(f"{spec.key} is not set (it already uses its default)")
        log.info("runtime_setting_deleted", key=spec.key)
        return await self.get(spec.key)

    async def llm_overrides(self) -> LLMOverrides:
        """Read on every answer, so a change applies to the next one on every replica."""
        try:
            rows = await self.store.all()
        except Exception as exc:  # noqa: BLE001 - a settings read must never fail an answer
            log.warning("runtime_settings_unreadable", error=str(exc)[:200])
            return LLMOverrides()
        return LLMOverrides(
            **{
                k.split(".", 1)[1]: v
                for k, (v, _) in rows.items()
                if k.startswith("llm.") and k in KEYS
            }
        )

    async def _check_model(self, name: str) -> None:
        if self.list_models is None:
            raise BadRequest(
                f"llm.model: the configured backend ({self.backend or 'embedded'}) has one built-in "
                "model; llm.model needs an Ollama or OpenAI-compatible server (MORGAN_LLM_URL)"
            )
        try:
            names = await self.list_models()
        except Exception as exc:
            raise BadRequest(f"llm.model: cannot list the models of {self.backend}: {exc}") from exc
        if not any(name == n or f"{name}:latest" == n for n in names):
            shown = ", ".join(sorted(names)[:20]) or "none pulled"
            raise BadRequest(f"llm.model: no model {name!r} on {self.backend} (available: {shown})")

    def _entry(self, spec: KeySpec, row: tuple[Any, Any] | None) -> ConfigEntry:
        default = self.defaults.get(spec.key)
        if row is None:
            return ConfigEntry(
                key=spec.key, value=default, source="default", default=default, help=spec.help
            )
        return ConfigEntry(
            key=spec.key,
            value=row[0],
            source="runtime",
            default=default,
            help=spec.help,
            updated_at=row[1].isoformat(),
        )


def model_lister(llm: Any) -> tuple[ModelLister | None, str]:
    """How to list the main backend's models (Ollama `/api/tags`, OpenAI `/v1/models`), if any."""
    primary = llm
    while hasattr(primary, "backends") and primary.backends:  # FallbackLLM: the main one decides
        primary = primary.backends[0]
    name = str(getattr(primary, "name", "")) or type(primary).__name__
    if hasattr(primary, "list_models"):

        async def ollama() -> list[str]:
            return [m.name for m in await primary.list_models()]

        return ollama, name
    if hasattr(primary, "_models"):

        async def openai() -> list[str]:
            return [str(m.get("id", "")) for m in await primary._models()]

        return openai, name
    return None, name
