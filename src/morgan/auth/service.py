"""Users and hashed API tokens, plus the embedded-mode local user bootstrap."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select, update

from morgan.errors import Conflict, NotFound, Unauthorized
from morgan.storage.db import Database
from morgan.storage.models import ApiToken, User

if TYPE_CHECKING:
    from morgan.auth import Revocations

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "mgn_"
LOCAL_USER = "local"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: uuid.UUID
    name: str


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of entropy, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(self, db: Database, revocations: Revocations | None = None) -> None:
        self.db = db
        self.revocations = revocations
        """Told of every revoke and disable, so the outage token cache honours them too."""

    async def create_user(
        self, name: str, *, token_name: str = "default"
    ) -> tuple[CurrentUser, str]:
        name = name.strip()
        if not name:
            raise ValueError("user name must not be empty")
        async with self.db.transaction() as session:
            exists = await session.scalar(select(User.id).where(User.name == name))
            if exists:
                raise Conflict(f"a user named {name!r} already exists")
            user = User(name=name)
            session.add(user)
            await session.flush()
            token = await self._add_token(session, user.id, token_name)
        log.info("user_created", user_id=str(user.id))
        return CurrentUser(user.id, user.name), token

    async def create_token(self, user_name: str, *, token_name: str = "default") -> str:
        async with self.db.transaction() as session:
            user_id = await session.scalar(select(User.id).where(User.name == user_name))
            if user_id is None:
                raise NotFound(f"no user named {user_name!r}")
            return await self._add_token(session, user_id, token_name)

    async def _add_token(self, session, user_id: uuid.UUID, token_name: str) -> str:  # type: ignore[no-untyped-def]
        token = new_token()
        session.add(
            ApiToken(
                user_id=user_id, token_hash=hash_token(token), prefix=token[:10], name=token_name
            )
        )
        return token

    async def authenticate(self, token: str | None) -> CurrentUser:
        if not token:
            raise Unauthorized("send `Authorization: Bearer <token>`")
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(User.id, User.name, ApiToken.id.label("token_id"), ApiToken.last_used_at)
                    .join(ApiToken, ApiToken.user_id == User.id)
                    .where(
                        ApiToken.token_hash == hash_token(token),
                        ApiToken.revoked_at.is_(None),
                        User.is_active.is_(True),
                    )
                )
            ).first()
        if row is None:
            raise Unauthorized("the API token is invalid, revoked, or its user is disabled")
        await self._touch(row.token_id, row.last_used_at)
        return CurrentUser(row.id, row.name)

    async def _touch(self, token_id: uuid.UUID, last_used_at: datetime | None) -> None:
        """Keep api_tokens.last_used_at to the minute: at most one write per token a minute."""
        now = datetime.now(UTC)
        if last_used_at is not None and now - last_used_at < LAST_USED_RESOLUTION:
            return
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
                )
        except Exception as exc:  # noqa: BLE001 - bookkeeping must never refuse a valid token
            log.warning("token_last_used_not_recorded", error=str(exc)[:200])

    async def _user_id(self, session, user_name: str) -> uuid.UUID:  # type: ignore[no-untyped-def]
        user_id = await session.scalar(select(User.id).where(User.name == user_name))
        if user_id is None:
            raise NotFound(f"no user named {user_name!r}")
        return user_id  # type: ignore[no-any-return]

    async def revoke_tokens(self, user_name: str, *, prefix: str | None = None) -> int:
        """Revoke the user's tokens (only those starting with `prefix` when given); the next
        request with one of them gets 401."""
        async with self.db.transaction() as session:
            user_id = await self._user_id(session, user_name)
            where = [ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)]
            if prefix:
                where.append(ApiToken.prefix == prefix[:10])  # as stored by _add_token
            hashes = list(await session.scalars(select(ApiToken.token_hash).where(*where)))
            await session.execute(
                update(ApiToken)
                .where(ApiToken.token_hash.in_(hashes))
                .values(revoked_at=datetime.now(UTC))
            )
        if self.revocations is not None and hashes:  # after the commit: see auth.outage
            await self.revocations.tokens_revoked(hashes, time.time())
        return len(hashes)

    async def list_tokens(self, user_name: str) -> list[ApiToken]:
        async with self.db.session() as session:
            user_id = await self._user_id(session, user_name)
            rows = await session.scalars(
                select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at)
            )
            return list(rows)

    async def set_active(self, user_name: str, active: bool) -> None:
        """Disable (or re-enable) a user: every one of their tokens stops (or starts) working."""
        async with self.db.transaction() as session:
            user_id = await self._user_id(session, user_name)
            await session.execute(update(User).where(User.id == user_id).values(is_active=active))
        if not active and self.revocations is not None:
            await self.revocations.user_disabled(user_id, time.time())
        log.info("user_enabled" if active else "user_disabled", user_id=str(user_id))

    async def count_users(self) -> int:
        async with self.db.session() as session:
            return len((await session.scalars(select(User.id))).all())

    async def ensure_local_user(self, token_file: Path) -> None:
        """First start in embedded mode: one local user whose token lives in a 0600 file.

        (`morgan serve` adds `token.url` once it listens: the CLI sends the token only there.)
        """
        if token_file.is_file():
            try:
                await self.authenticate(token_file.read_text().strip())
                return
            except Unauthorized:
                log.warning("local_token_invalid_rotating", path=str(token_file))
        async with self.db.session() as session:
            local_exists = await session.scalar(select(User.id).where(User.name == LOCAL_USER))
        if local_exists:
            token = await self.create_token(LOCAL_USER, token_name="local-token-file")
        else:
            _, token = await self.create_user(LOCAL_USER, token_name="local-token-file")
        write_secret_file(token_file, token)
        log.info("local_user_ready", token_file=str(token_file))


def write_secret_file(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content + "\n")
    os.chmod(path, 0o600)
