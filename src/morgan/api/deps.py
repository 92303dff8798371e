"""Request-scoped dependencies: the services container and the authenticated user."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from morgan.auth import CurrentUser
from morgan.services import Services


def get_services(state: State) -> Services:
    return state.services  # type: ignore[no-any-return]


async def get_current_user(request: Request[Any, Any, Any], state: State) -> CurrentUser:
    """The user comes from the bearer token only; bodies never name a user."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    services: Services = state.services
    return await services.auth.authenticate(token.strip() if scheme.lower() == "bearer" else None)
