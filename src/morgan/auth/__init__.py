"""Users and bearer API tokens. A token identifies its user; nothing else ever does."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from morgan.auth.service import AuthService, CurrentUser, hash_token, new_token


@runtime_checkable
class Revocations(Protocol):
    """Where `revoke` and `disable` are announced, so the outage token cache (auth.outage)
    stops accepting what the database would now refuse: in this process at once, and in every
    replica through Redis in the cluster. Times are wall-clock seconds (`time.time()`)."""

    async def tokens_revoked(self, token_hashes: Sequence[str], at: float) -> bool:
        """Record the revocations; False when they could not reach the other processes."""
        ...

    async def user_disabled(self, user_id: uuid.UUID, at: float) -> bool: ...

    async def revoked_since(self, token_hash: str, user_id: uuid.UUID, since: float) -> bool | None:
        """True when the token was revoked or its user disabled at or after `since`; None when
        that cannot be known now (Redis unreachable): the caller must then refuse."""
        ...


__all__ = ["AuthService", "CurrentUser", "Revocations", "hash_token", "new_token"]
