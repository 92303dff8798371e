"""`/api/config` (runtime settings) and `/api/debug`; thin: logic is in morgan.runtime_config."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, delete, get, put

from morgan.api import providers
from morgan.api.providers import DebugReport
from morgan.auth import CurrentUser
from morgan.errors import DependencyUnavailable
from morgan.runtime_config import ConfigEntry, RuntimeConfigService


class ConfigValueIn(msgspec.Struct):
    value: Any
    """A JSON value or its text form ("0.5"); parsed and validated for the key."""


def _service(runtime_config: RuntimeConfigService | None) -> RuntimeConfigService:
    if runtime_config is None:
        raise DependencyUnavailable("runtime settings are not available on this server")
    return runtime_config


class ConfigController(Controller):
    path = "/api/config"
    tags = ["config"]
    dependencies = {"runtime_config": providers.runtime_config}

    @get("/")
    async def list_settings(
        self, runtime_config: RuntimeConfigService | None, user: CurrentUser
    ) -> list[ConfigEntry]:
        return await _service(runtime_config).list()

    @get("/{key:str}")
    async def get_setting(
        self, key: str, runtime_config: RuntimeConfigService | None, user: CurrentUser
    ) -> ConfigEntry:
        return await _service(runtime_config).get(key)

    @put("/{key:str}")
    async def set_setting(
        self,
        key: str,
        data: ConfigValueIn,
        runtime_config: RuntimeConfigService | None,
        user: CurrentUser,
    ) -> ConfigEntry:
        return await _service(runtime_config).set(key, data.value, updated_by=user.id)

    @delete("/{key:str}", status_code=200)
    async def delete_setting(
        self, key: str, runtime_config: RuntimeConfigService | None, user: CurrentUser
    ) -> ConfigEntry:
        return await _service(runtime_config).delete(key)


@get("/api/debug", tags=["debug"], dependencies={"report": providers.debug})
async def debug(report: DebugReport, user: CurrentUser) -> dict[str, Any]:
    return await report()
