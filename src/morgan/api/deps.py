"""Request-scoped dependencies: the services container and the authenticated user."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request
from litestar.datastructures import State

from morgan.auth import CurrentUser
from morgan.auth.outage import RecentTokens
from morgan.errors import DatabaseUnavailable, TooManyRequests, Unauthorized, as_morgan_error
from morgan.ratelimit import RateLimiter
from morgan.services import Services


def get_services(state: State) -> Services:
    return state.services  # type: ignore[no-any-return]


async def get_current_user(request: Request[Any, Any, Any], state: State) -> CurrentUser:
    """The user comes from the bearer token only; bodies never name a user."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    services: Services = state.services
    bearer = token.strip() if scheme.lower() == "bearer" else None
    recent: RecentTokens | None = getattr(state, "recent_tokens", None)
    failures: RateLimiter | None = getattr(state, "auth_failures", None)
    address = request.client.host if request.client else "unknown"
    if failures is not None and (wait := await failures.retry_after(address)) is not None:
        raise TooManyRequests(
            f"too many failed authentications from this address; retry in {wait} s",
            retry_after=wait,
        )
    checked_at = time.time()  # before the database read: a revocation after it wins
    try:
        user = await services.auth.authenticate(bearer)
    except Unauthorized:
        if bearer and recent is not None:
            recent.forget(bearer)
        if failures is not None and bearer:  # a wrong token, not a missing one: guessing
            await failures.record(address)
        raise
    except Exception as exc:
        # Database down: a token that worked minutes ago, and was not revoked since, still
        # works (see auth.outage).
        if bearer and recent is not None and isinstance(as_morgan_error(exc), DatabaseUnavailable):
            remembered = await recent.recall(bearer)
            if remembered is not None:
                return remembered
        raise
    if bearer and recent is not None:
        recent.remember(bearer, user, checked_at)
    return user
