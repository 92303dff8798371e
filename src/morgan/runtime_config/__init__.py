"""Runtime settings: `morgan config set llm.temperature 0.5`, stored in the database, read live.

The design kept these in Consul KV; here they are rows of `runtime_settings`, so every replica
sees a change on its next request without a restart. Keys use dot notation and are validated
against `KEYS` before they are written; unknown keys are refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from morgan.runtime_config.keys import KEYS, KeySpec
from morgan.runtime_config.service import ConfigEntry, LLMOverrides, RuntimeConfigService
from morgan.runtime_config.store import SqlRuntimeConfigStore


class RuntimeConfigStore(Protocol):
    """Where runtime settings live; values are JSON scalars already validated by the service."""

    async def all(self) -> dict[str, tuple[Any, datetime]]: ...

    async def put(self, key: str, value: Any, *, updated_by: Any = None) -> None: ...

    async def remove(self, key: str) -> bool: ...


__all__ = [
    "KEYS",
    "ConfigEntry",
    "KeySpec",
    "LLMOverrides",
    "RuntimeConfigService",
    "RuntimeConfigStore",
    "SqlRuntimeConfigStore",
]
