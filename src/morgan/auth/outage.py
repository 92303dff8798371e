"""Tokens seen recently, so a database outage does not log every caller out.

Only used when the database cannot answer: while it is up every request is checked against
it, so a revoked token or a disabled user stops working on the next request. During an
outage a token that authenticated in the last `ttl_s` seconds keeps working (status, chats
answered from the cache and the vector index), and nothing else does.
"""

from __future__ import annotations

import time

from morgan.auth.service import CurrentUser, hash_token

OUTAGE_TTL_S = 300.0
MAX_ENTRIES = 10_000


class RecentTokens:
    def __init__(self, ttl_s: float = OUTAGE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._seen: dict[str, tuple[CurrentUser, float]] = {}

    def remember(self, token: str, user: CurrentUser) -> None:
        if len(self._seen) >= MAX_ENTRIES:
            self._seen.pop(next(iter(self._seen)))
        self._seen[hash_token(token)] = (user, time.monotonic() + self.ttl_s)

    def recall(self, token: str) -> CurrentUser | None:
        entry = self._seen.get(hash_token(token))
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]
