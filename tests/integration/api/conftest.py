"""The real app in-process (Litestar's test client), with real storage on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from litestar.testing import AsyncTestClient

from morgan.app import create_app
from morgan.services import Services
from morgan.settings import Settings, load_settings

T = TypeVar("T")


@dataclass
class Api:
    client: AsyncTestClient
    services: Services
    token: str
    home: Path

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def on_app_loop(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a coroutine on the app's event loop (its DB pool belongs to that loop)."""
        future = self.client.blocking_portal.start_task_soon(fn, *args)
        return await asyncio.wrap_future(future)

    async def new_user(self, name: str) -> str:
        _, token = await self.on_app_loop(self.services.auth.create_user, name)
        return token


def api_settings(db_url: str, home: Path, **env: str) -> Settings:
    return load_settings(
        {
            "MORGAN_HOME": str(home),
            "MORGAN_DATABASE_URL": db_url,
            "MORGAN_LLM_URL": "extractive://",
            "MORGAN_MAX_UPLOAD_MB": "2",
            "MORGAN_LOG_FORMAT": "console",
            **env,
        }
    )


@asynccontextmanager
async def running_api(db_url: str, home: Path, **env: str) -> AsyncIterator[Api]:
    app = create_app(api_settings(db_url, home, **env), migrate=True)
    async with AsyncTestClient(app) as client:
        services: Services = app.state.services
        yield Api(client, services, (home / "token").read_text().strip(), home)


@pytest.fixture
async def api(db_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(db_url, tmp_path / "home") as running:
        yield running
