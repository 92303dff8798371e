from __future__ import annotations

import re
from pathlib import Path

import pytest

from morgan.settings import SettingsError, env_var_names, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_are_the_embedded_column(tmp_path: Path) -> None:
    s = load_settings({"MORGAN_HOME": str(tmp_path)})
    assert s.database.url == f"sqlite+aiosqlite:///{tmp_path / 'morgan.db'}"
    assert s.vectors.url == str(tmp_path / "qdrant")
    assert s.cache.url == "memory://"
    assert s.blobs.url == (tmp_path / "blobs").as_uri()
    assert s.models.embeddings_url.startswith("embedded://")
    assert s.models.reranker_url == ""
    assert s.server.mode == "embedded"


def test_env_overrides_toml_which_overrides_defaults(tmp_path: Path) -> None:
    (tmp_path / "morgan.toml").write_text(
        '[server]\nport = 9001\nhost = "0.0.0.0"\n[cache]\nurl = "redis://127.0.0.1:6379/1"\n'
    )
    s = load_settings({"MORGAN_HOME": str(tmp_path), "MORGAN_PORT": "9002"})
    assert s.server.port == 9002  # env wins
    assert s.server.host == "0.0.0.0"  # file wins over default
    assert s.cache.url == "redis://127.0.0.1:6379/1"


def test_bad_value_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="port"):
        load_settings({"MORGAN_HOME": str(tmp_path), "MORGAN_PORT": "eighty"})


def test_emotion_key_alias(tmp_path: Path) -> None:
    s = load_settings({"MORGAN_HOME": str(tmp_path), "MORGAN_EMOTION_KEY": "abc"})
    assert s.auth.emotion_key == "abc"


def test_readme_documents_every_variable() -> None:
    documented = set(re.findall(r"`(MORGAN_[A-Z_]+)`", README.read_text()))
    missing = set(env_var_names()) - documented
    assert not missing, f"README lacks {sorted(missing)}"
