"""Users and bearer API tokens. A token identifies its user; nothing else ever does."""

from morgan.auth.service import AuthService, CurrentUser, hash_token, new_token

__all__ = ["AuthService", "CurrentUser", "hash_token", "new_token"]
