"""`/api/config` (runtime settings) and `/api/debug`; thin: logic is in morgan.runtime_config."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, delete, get, put

from morgan.auth import CurrentUser
from morgan.errors import DependencyUnavailable
from morgan.runtime_config import ConfigEntry, RuntimeConfigService
from morgan.runtime_config.debug import debug_report
from morgan.services import Services


class ConfigValueIn(msgspec.Struct):
    value: Any
    """A JSON value or its text form ("0.5"); parsed and validated for the key."""


def _service(services: Services) -> RuntimeConfigService:
    if services.runtime_config is None:
        raise DependencyUnavailable("runtime settings are not available on this server")
    return services.runtime_config  # type: ignore[no-any-return]


class ConfigController(Controller):
    path = "/api/config"
    tags = ["config"]

    @get("/")
    async def list_settings(self, services: Services, user: CurrentUser) -> list[ConfigEntry]:
        return await _service(services).list()

    @get("/{key:str}")
    async def get_setting(self, key: str, services: Services, user: CurrentUser) -> ConfigEntry:
        return await _service(services).get(key)

    @put("/{key:str}")
    async def set_setting(
        self, key: str, data: ConfigValueIn, services: Services, user: CurrentUser
    ) -> ConfigEntry:
        return await _service(services).set(key, data.value, updated_by=user.id)

    @delete("/{key:str}", status_code=200)
    async def delete_setting(self, key: str, services: Services, user: CurrentUser) -> ConfigEntry:
        return await _service(services).delete(key)


@get("/api/debug", tags=["debug"])
async def debug(services: Services, user: CurrentUser) -> dict[str, Any]:
    return await debug_report(services)
