from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from morgan.auth import AuthService, hash_token
from morgan.errors import Conflict, Unauthorized
from morgan.storage.db import Database
from morgan.storage.models import ApiToken


@pytest.fixture
def auth(db: Database) -> AuthService:
    return AuthService(db)


async def test_tokens_are_stored_hashed_and_authenticate(auth: AuthService) -> None:
    user, token = await auth.create_user("ann")
    assert (await auth.authenticate(token)).id == user.id
    async with auth.db.session() as s:
        stored = list(await s.scalars(select(ApiToken.token_hash)))
    assert stored == [hash_token(token)]
    assert token not in stored


async def test_bad_missing_and_revoked_tokens_are_401(auth: AuthService) -> None:
    _, token = await auth.create_user("ann")
    for bad in (None, "", "mgn_nope", token + "x"):
        with pytest.raises(Unauthorized):
            await auth.authenticate(bad)
    assert await auth.revoke_tokens("ann") == 1
    with pytest.raises(Unauthorized):
        await auth.authenticate(token)


async def test_duplicate_user_is_a_conflict(auth: AuthService) -> None:
    await auth.create_user("ann")
    with pytest.raises(Conflict):
        await auth.create_user("ann")


async def test_local_user_token_file_is_private_and_stable(
    auth: AuthService, tmp_path: Path
) -> None:
    token_file = tmp_path / "home" / "token"
    await auth.ensure_local_user(token_file)
    first = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    await auth.ensure_local_user(token_file)  # second start: same token, no new user
    assert token_file.read_text().strip() == first
    assert await auth.count_users() == 1
    token_file.write_text("mgn_tampered\n")
    await auth.ensure_local_user(token_file)  # invalid file: a fresh token for the same user
    assert (await auth.authenticate(token_file.read_text().strip())).name == "local"
    assert await auth.count_users() == 1
