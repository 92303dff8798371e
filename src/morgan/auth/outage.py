"""Tokens seen recently, so a database outage does not log every caller out.

Only used when the database cannot answer: while it is up every request is checked against
it. During an outage a token that authenticated in the last `ttl_s` seconds
(`MORGAN_AUTH_OUTAGE_TOKEN_TTL_S`) keeps working (status, chats answered from the cache and
the vector index), and nothing else does.

A token revoked or a user disabled after that check must not pass either, even if the
database went down before the token was used again: `AuthService` announces every revoke and
disable to a `Revocations` (morgan.auth), and `recall` asks it whether anything was revoked
since the entry's database check. `LocalRevocations` covers this process; `RedisRevocations`
also writes a marker per token and per user in the cluster's Redis (morgan.shared_state), so
`morgan users token revoke` run anywhere reaches every replica; `FileRevocations` does the
same through a file in MORGAN_HOME for the embedded server and the CLI beside it. When Redis
(or that file) cannot be read during an outage, `recall` refuses (503): availability never
outranks a revocation.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import structlog

from morgan.auth import Revocations
from morgan.auth.service import CurrentUser, hash_token
from morgan.shared_state import REDIS_ERRORS, SharedRedis

log = structlog.get_logger(__name__)

K = TypeVar("K")

OUTAGE_TTL_S = 120.0
MAX_ENTRIES = 10_000
REVOCATIONS_FILE = "revocations"
"""Under MORGAN_HOME: the embedded server's and the CLI's shared record (FileRevocations)."""
MIN_MARKER_TTL_S = 3600.0
"""Revocation markers outlive every cache entry they could veto (entries live `ttl_s` from a
check made before the revocation), with room for replicas configured with a longer TTL. A
marker that lives on is harmless: a later successful check is newer than it."""


def _marker_ttl(ttl_s: float) -> float:
    return max(2 * ttl_s, MIN_MARKER_TTL_S)


class LocalRevocations:
    """Revocations made by this process (the embedded default, and the Redis one's first stop)."""

    def __init__(self, ttl_s: float = OUTAGE_TTL_S, *, clock: Callable[[], float] = time.time):
        self.marker_ttl_s = _marker_ttl(ttl_s)
        self._clock = clock
        self._tokens: dict[str, float] = {}
        self._users: dict[uuid.UUID, float] = {}

    def _prune(self, markers: dict[K, float]) -> None:
        oldest = self._clock() - self.marker_ttl_s
        for key in [k for k, at in markers.items() if at < oldest]:
            del markers[key]
        while len(markers) >= MAX_ENTRIES:
            markers.pop(next(iter(markers)))

    async def tokens_revoked(self, token_hashes: Sequence[str], at: float) -> bool:
        self._prune(self._tokens)
        for token_hash in token_hashes:
            self._tokens[token_hash] = at
        return True

    async def user_disabled(self, user_id: uuid.UUID, at: float) -> bool:
        self._prune(self._users)
        self._users[user_id] = at
        return True

    async def revoked_since(self, token_hash: str, user_id: uuid.UUID, since: float) -> bool | None:
        at = max(self._tokens.get(token_hash, -1.0), self._users.get(user_id, -1.0))
        return at >= since


class RedisRevocations:
    """This process's revocations, plus markers in Redis that every replica reads."""

    def __init__(self, shared: SharedRedis, ttl_s: float = OUTAGE_TTL_S) -> None:
        self.shared = shared
        self.local = LocalRevocations(ttl_s)
        self.marker_ms = int(_marker_ttl(ttl_s) * 1000)

    def _token_key(self, token_hash: str) -> str:
        return self.shared.key("revoked", "token", token_hash)

    def _user_key(self, user_id: uuid.UUID) -> str:
        return self.shared.key("revoked", "user", str(user_id))

    async def _publish(self, keys: list[str], at: float) -> bool:
        try:
            async with self.shared.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, repr(at), px=self.marker_ms)
                await pipe.execute()
        except REDIS_ERRORS as exc:
            self.shared.lost(exc)
            log.warning("revocation_not_shared", count=len(keys), error=str(exc)[:200])
            return False
        self.shared.ok()
        return True

    async def tokens_revoked(self, token_hashes: Sequence[str], at: float) -> bool:
        await self.local.tokens_revoked(token_hashes, at)
        if not token_hashes:
            return True
        return await self._publish([self._token_key(h) for h in token_hashes], at)

    async def user_disabled(self, user_id: uuid.UUID, at: float) -> bool:
        await self.local.user_disabled(user_id, at)
        return await self._publish([self._user_key(user_id)], at)

    async def revoked_since(self, token_hash: str, user_id: uuid.UUID, since: float) -> bool | None:
        if await self.local.revoked_since(token_hash, user_id, since):
            return True
        try:
            found = await self.shared.client.mget(
                self._token_key(token_hash), self._user_key(user_id)
            )
        except REDIS_ERRORS as exc:
            self.shared.lost(exc)
            return None
        self.shared.ok()
        return any(value is not None and float(value) >= since for value in found)


class FileRevocations:
    """Embedded (no Redis): the CLI and the server share MORGAN_HOME, so revocations are
    appended to a 0600 file there that the server reads only when it needs to (an outage)."""

    MAX_BYTES = 256 * 1024

    def __init__(self, path: Path, ttl_s: float = OUTAGE_TTL_S) -> None:
        self.path = path
        self.local = LocalRevocations(ttl_s)
        self.marker_ttl_s = _marker_ttl(ttl_s)

    def _markers(self) -> list[tuple[str, float, str]]:
        """(kind, at, id) of every marker in the file; a missing file holds none."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            kind, _, rest = line.partition(" ")
            at, _, ident = rest.partition(" ")
            with contextlib.suppress(ValueError):
                out.append((kind, float(at), ident))
        return out

    def _append(self, lines: list[str]) -> bool:
        try:
            if self.path.is_file() and self.path.stat().st_size > self.MAX_BYTES:
                self._compact()
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write("".join(line + "\n" for line in lines))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            log.warning("revocation_not_shared", path=str(self.path), error=str(exc)[:200])
            return False
        return True

    def _compact(self) -> None:
        oldest = time.time() - self.marker_ttl_s
        kept = [f"{k} {at!r} {i}\n" for k, at, i in self._markers() if at >= oldest]
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(kept))
        os.replace(temporary, self.path)

    async def tokens_revoked(self, token_hashes: Sequence[str], at: float) -> bool:
        await self.local.tokens_revoked(token_hashes, at)
        return not token_hashes or self._append([f"token {at!r} {h}" for h in token_hashes])

    async def user_disabled(self, user_id: uuid.UUID, at: float) -> bool:
        await self.local.user_disabled(user_id, at)
        return self._append([f"user {at!r} {user_id}"])

    async def revoked_since(self, token_hash: str, user_id: uuid.UUID, since: float) -> bool | None:
        if await self.local.revoked_since(token_hash, user_id, since):
            return True
        try:
            markers = self._markers()
        except OSError:
            return None  # cannot read MORGAN_HOME: cannot vouch for anything
        wanted = {("token", token_hash), ("user", str(user_id))}
        return any((kind, ident) in wanted and at >= since for kind, at, ident in markers)


def build_revocations(
    shared: SharedRedis | None, ttl_s: float = OUTAGE_TTL_S, home: Path | None = None
) -> LocalRevocations | RedisRevocations | FileRevocations:
    """Redis in the cluster; else a file in MORGAN_HOME (embedded: CLI and server share it)."""
    if shared is not None:
        return RedisRevocations(shared, ttl_s)
    if home is not None:
        return FileRevocations(home / REVOCATIONS_FILE, ttl_s)
    return LocalRevocations(ttl_s)


class RecentTokens:
    def __init__(
        self,
        ttl_s: float = OUTAGE_TTL_S,
        revocations: Revocations | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl_s = ttl_s
        self.revocations = revocations or LocalRevocations(ttl_s, clock=clock)
        self._clock = clock
        self._seen: dict[str, tuple[CurrentUser, float]] = {}

    def remember(self, token: str, user: CurrentUser, checked_at: float) -> None:
        """`checked_at`: the wall time just before the database check that accepted `token`."""
        if self.ttl_s <= 0:
            return
        if len(self._seen) >= MAX_ENTRIES:
            self._seen.pop(next(iter(self._seen)))
        self._seen[hash_token(token)] = (user, checked_at)

    def forget(self, token: str) -> None:
        self._seen.pop(hash_token(token), None)

    async def recall(self, token: str) -> CurrentUser | None:
        token_hash = hash_token(token)
        entry = self._seen.get(token_hash)
        if entry is None:
            return None
        user, checked_at = entry
        if checked_at + self.ttl_s < self._clock():
            del self._seen[token_hash]
            return None
        revoked = await self.revocations.revoked_since(token_hash, user.id, checked_at)
        if revoked is not False:  # revoked, or cannot tell: the database would have to say
            if revoked:
                self._seen.pop(token_hash, None)
            return None
        return user
