"""Encryption of emotional data at rest: round-trip, failures that say why, rotation."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import msgspec
import pytest

from morgan.emotion.crypto import (
    DecryptionError,
    EmotionCipher,
    EmotionCryptoError,
    MalformedCiphertextError,
    UnknownKeyError,
    key_id_for,
    load_or_create_key,
)

RECORD = {"label": "anger", "intensity": 0.8, "scores": {"anger": 0.8, "neutral": 0.1}}


class State(msgspec.Struct):
    label: str
    intensity: float


def test_round_trip_restores_the_object_and_hides_it() -> None:
    cipher = EmotionCipher(os.urandom(32), "k1")
    blob = cipher.encrypt(RECORD)
    assert b"anger" not in blob
    assert cipher.decrypt(blob) == RECORD


def test_decrypt_into_a_struct_validates_the_shape() -> None:
    cipher = EmotionCipher(os.urandom(32), "k1")
    assert cipher.decrypt(cipher.encrypt(State("joy", 0.3)), type=State) == State("joy", 0.3)


def test_same_object_encrypts_differently_each_time() -> None:
    cipher = EmotionCipher(os.urandom(32), "k1")
    assert cipher.encrypt(RECORD) != cipher.encrypt(RECORD)


def test_wrong_key_under_same_id_fails_clearly() -> None:
    blob = EmotionCipher(os.urandom(32), "k1").encrypt(RECORD)
    with pytest.raises(DecryptionError, match="wrong key material or the data was modified"):
        EmotionCipher(os.urandom(32), "k1").decrypt(blob)


def test_unknown_key_id_names_the_missing_key() -> None:
    blob = EmotionCipher(os.urandom(32), "old").encrypt(RECORD)
    with pytest.raises(UnknownKeyError, match="'old'"):
        EmotionCipher(os.urandom(32), "new").decrypt(blob)


@pytest.mark.parametrize("position", [-1, -20, 20])
def test_any_flipped_byte_is_detected(position: int) -> None:
    cipher = EmotionCipher(os.urandom(32), "k1")
    blob = bytearray(cipher.encrypt(RECORD))
    blob[position] ^= 0x01
    with pytest.raises(EmotionCryptoError):
        cipher.decrypt(bytes(blob))


def test_rewriting_the_key_id_in_the_header_is_detected() -> None:
    key = os.urandom(32)
    cipher = EmotionCipher(key, "k1", old_keys={"k2": key})
    blob = cipher.encrypt(RECORD)
    forged = blob.replace(b"k1", b"k2", 1)
    with pytest.raises(DecryptionError):
        cipher.decrypt(forged)


def test_garbage_and_truncation_are_malformed() -> None:
    cipher = EmotionCipher(os.urandom(32), "k1")
    with pytest.raises(MalformedCiphertextError):
        cipher.decrypt(b"plain json")
    with pytest.raises(MalformedCiphertextError):
        cipher.decrypt(cipher.encrypt(RECORD)[:10])


def test_rotation_reads_old_records_and_reencrypts_with_current_key() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    old_blob = EmotionCipher(old_key, "2024").encrypt(RECORD)
    rotated = EmotionCipher(new_key, "2025", old_keys={"2024": old_key})
    assert rotated.decrypt(old_blob) == RECORD
    assert rotated.needs_reencryption(old_blob)
    new_blob = rotated.reencrypt(old_blob)
    assert rotated.key_id_of(new_blob) == "2025"
    assert not rotated.needs_reencryption(new_blob)
    assert rotated.reencrypt(new_blob) is new_blob
    assert EmotionCipher(new_key, "2025").decrypt(new_blob) == RECORD  # old key no longer needed


def test_from_keys_derives_ids_from_fingerprints() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    blob = EmotionCipher.from_keys(old_key).encrypt(RECORD)
    cipher = EmotionCipher.from_keys(new_key, [old_key])
    assert cipher.key_id == key_id_for(new_key)
    assert cipher.decrypt(blob) == RECORD


def test_keys_of_the_wrong_size_are_rejected() -> None:
    with pytest.raises(EmotionCryptoError, match="32 bytes"):
        EmotionCipher(b"short", "k1")


def test_key_file_is_created_0600_and_reused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MORGAN_EMOTION_KEY", raising=False)
    path = tmp_path / "keys" / "emotion.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key


def test_configured_key_wins_over_the_file(tmp_path: Path, monkeypatch) -> None:
    configured = os.urandom(32)
    monkeypatch.setenv("MORGAN_EMOTION_KEY", base64.b64encode(configured).decode())
    assert load_or_create_key(tmp_path / "emotion.key") == configured
    assert not (tmp_path / "emotion.key").exists()


def test_bad_configured_key_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(EmotionCryptoError, match="32 bytes"):
        load_or_create_key(tmp_path / "k", configured=base64.b64encode(b"x" * 8).decode())
    with pytest.raises(EmotionCryptoError, match="base64"):
        load_or_create_key(tmp_path / "k", configured="not base64!!")
