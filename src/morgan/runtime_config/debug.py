"""`morgan debug`: what the server is made of right now, for a person diagnosing it.

Components, the background queue, the vector index and where every setting came from
(environment, morgan.toml, default, or a runtime `morgan config set`). Secrets are masked.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import structlog

from morgan.settings import env_var_names

log = structlog.get_logger(__name__)

_SECRET_WORDS = ("key", "token", "secret", "password")


class SettingSource(msgspec.Struct, kw_only=True):
    name: str
    """`section.field` for static settings, the dot key for runtime ones."""
    value: Any
    source: str
    """`env` (MORGAN_*), `morgan.toml`, `default` or `runtime` (database)."""
    env: str = ""


def _masked(name: str, value: Any) -> Any:
    if isinstance(value, str) and value and any(w in name.lower() for w in _SECRET_WORDS):
        return "***"
    if isinstance(value, str) and "@" in value and "://" in value:
        parts = urlsplit(value)
        if parts.password:  # user:pass@host -> user:***@host
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
    return value


def static_sources(settings: Any, env: Mapping[str, str] | None = None) -> list[SettingSource]:
    """Where each MORGAN_* setting's value came from, in the order load_settings applies them."""
    env = os.environ if env is None else env
    toml: dict[str, Any] = {}
    path = settings.home / "morgan.toml"
    if path.is_file():
        try:
            toml = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError):
            toml = {}
    out: list[SettingSource] = []
    for var, (section, field) in env_var_names().items():
        if not section:
            continue
        value = getattr(getattr(settings, section, None), field, None)
        if var in env:
            source = "env"
        elif field in toml.get(section, {}):
            source = "morgan.toml"
        else:
            source = "default"
        out.append(
            SettingSource(
                name=f"{section}.{field}", value=_masked(field, value), source=source, env=var
            )
        )
    return out


async def debug_report(services: Any) -> dict[str, Any]:
    components = await services.component_health()
    queue = services.learning_queue
    queue_out: dict[str, Any] = {"name": "learning", "running": False, "pending": 0}
    if queue is not None:
        stats = getattr(queue, "stats", None)
        queue_out.update(
            running=bool(queue.running), pending=int(queue.pending), stats=_plain(stats)
        )
    queue_out["background_tasks"] = len(services.background)
    try:
        vectors: dict[str, Any] = _plain(await services.vectors.stats())
    except Exception as exc:  # noqa: BLE001 - a down index is what one debugs
        vectors = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    sources = static_sources(services.settings)
    if services.runtime_config is not None:
        sources += [
            SettingSource(name=e.key, value=e.value, source="runtime")
            for e in await services.runtime_config.list()
            if e.source == "runtime"
        ]
    return {
        "components": [msgspec.to_builtins(c) for c in components],
        "queue": queue_out,
        "vectors": vectors,
        "config": [msgspec.to_builtins(s) for s in sources],
    }


def _plain(obj: Any) -> Any:
    if obj is None:
        return None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return msgspec.to_builtins(obj)
