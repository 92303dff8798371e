"""AES-256-GCM encryption for emotional data at rest, with key rotation.

Blob layout: b"ME" | version (1 byte) | key-id length (1 byte) | key id (utf-8) | nonce (12) |
ciphertext+tag. The header is authenticated as associated data, so swapping the key id or
version is detected like any other tampering.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = structlog.get_logger(__name__)

T = TypeVar("T")

_MAGIC = b"ME"
_VERSION = 1
_NONCE_BYTES = 12
KEY_BYTES = 32
KEY_ENV_VAR = "MORGAN_EMOTION_KEY"


class EmotionCryptoError(Exception):
    """Base for every failure to decrypt or configure emotional-data encryption."""


class UnknownKeyError(EmotionCryptoError):
    """The blob names a key id this cipher does not hold (rotated out, or a foreign key)."""


class DecryptionError(EmotionCryptoError):
    """Authentication failed: wrong key material for this key id, or the blob was altered."""


class MalformedCiphertextError(EmotionCryptoError):
    """Not a blob written by EmotionCipher (bad magic, version or truncated header)."""


def key_id_for(key: bytes) -> str:
    """A stable, non-secret id for a key: the first 8 bytes of its SHA-256, hex."""
    return hashlib.sha256(key).hexdigest()[:16]


def _check_key(key: bytes, key_id: str) -> None:
    if len(key) != KEY_BYTES:
        raise EmotionCryptoError(f"key {key_id!r} must be {KEY_BYTES} bytes, got {len(key)}")
    if not key_id or len(key_id.encode()) > 255:
        raise EmotionCryptoError("key id must be 1..255 bytes of utf-8")


class EmotionCipher:
    """Encrypts with the current key; decrypts with the current or any old key."""

    def __init__(self, key: bytes, key_id: str, old_keys: Mapping[str, bytes] | None = None):
        _check_key(key, key_id)
        for old_id, old_key in (old_keys or {}).items():
            _check_key(old_key, old_id)
        self.key_id = key_id
        self._keys: dict[str, AESGCM] = {kid: AESGCM(k) for kid, k in (old_keys or {}).items()}
        self._keys[key_id] = AESGCM(key)

    @classmethod
    def from_keys(cls, key: bytes, old_keys: list[bytes] | tuple[bytes, ...] = ()) -> EmotionCipher:
        """Key ids derived from the keys' fingerprints, so settings only hold key material."""
        return cls(key, key_id_for(key), {key_id_for(k): k for k in old_keys})

    @property
    def known_key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def _header(self, key_id: str) -> bytes:
        encoded = key_id.encode()
        return _MAGIC + bytes([_VERSION, len(encoded)]) + encoded

    def encrypt(self, obj: Any) -> bytes:
        header = self._header(self.key_id)
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self._keys[self.key_id].encrypt(nonce, msgspec.json.encode(obj), header)
        return header + nonce + ciphertext

    def key_id_of(self, blob: bytes) -> str:
        return self._parse(blob)[0]

    def _parse(self, blob: bytes) -> tuple[str, bytes, bytes, bytes]:
        if len(blob) < 4 or blob[:2] != _MAGIC:
            raise MalformedCiphertextError("not an encrypted emotion record (bad magic)")
        if blob[2] != _VERSION:
            raise MalformedCiphertextError(f"unsupported emotion record version {blob[2]}")
        id_len = blob[3]
        header_end = 4 + id_len
        if len(blob) < header_end + _NONCE_BYTES + 16:
            raise MalformedCiphertextError("encrypted emotion record is truncated")
        try:
            key_id = blob[4:header_end].decode()
        except UnicodeDecodeError as exc:
            raise MalformedCiphertextError("key id is not utf-8") from exc
        nonce = blob[header_end : header_end + _NONCE_BYTES]
        return key_id, blob[:header_end], nonce, blob[header_end + _NONCE_BYTES :]

    def decrypt(self, blob: bytes, type: type[T] = Any) -> T:  # type: ignore[assignment]
        """The decoded object; `type` lets msgspec validate into a struct on the way out."""
        key_id, header, nonce, ciphertext = self._parse(blob)
        aead = self._keys.get(key_id)
        if aead is None:
            raise UnknownKeyError(
                f"emotion record was encrypted with key {key_id!r}, which is not configured "
                f"(known: {sorted(self._keys)}); add it to the old keys to read it"
            )
        try:
            plaintext = aead.decrypt(nonce, ciphertext, header)
        except InvalidTag as exc:
            raise DecryptionError(
                f"emotion record failed authentication under key {key_id!r}: "
                "wrong key material or the data was modified"
            ) from exc
        return msgspec.json.decode(plaintext, type=type)

    def needs_reencryption(self, blob: bytes) -> bool:
        return self.key_id_of(blob) != self.key_id

    def reencrypt(self, blob: bytes) -> bytes:
        """The same record under the current key; unchanged bytes when already current."""
        if not self.needs_reencryption(blob):
            return blob
        return self.encrypt(self.decrypt(blob))


def decode_key(value: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (ValueError, TypeError) as exc:
        raise EmotionCryptoError(f"{KEY_ENV_VAR} is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise EmotionCryptoError(f"{KEY_ENV_VAR} must decode to {KEY_BYTES} bytes, got {len(key)}")
    return key


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def load_or_create_key(path: Path | str, configured: str | None = None) -> bytes:
    """The configured key (base64) if any, else the key file at `path`, created 0600 if absent.

    `configured` defaults to the MORGAN_EMOTION_KEY environment variable.
    """
    if configured is None:
        configured = os.environ.get(KEY_ENV_VAR) or None
    if configured:
        return decode_key(configured)
    path = Path(path)
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("emotion.key.permissive_mode", path=str(path), mode=oct(mode))
        return decode_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race; use its key
        return decode_key(path.read_text())
    with os.fdopen(fd, "w") as handle:
        handle.write(encode_key(key) + "\n")
    os.chmod(path, 0o600)  # umask cannot widen it, but be explicit
    log.info("emotion.key.created", path=str(path), key_id=key_id_for(key))
    return key
