"""Structured logs with request ids, and Prometheus metrics by route.

Every request gets an id (from `X-Request-ID` when the caller sends a sane one, else new);
it is bound into structlog's context so every log line of that request carries it, and it
is echoed in the response header and in problem-details bodies.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, MutableMapping
from contextvars import ContextVar
from typing import Any, Literal, ParamSpec, TypeVar

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PARAM_TYPE = re.compile(r":[^}]+}")

# ---- private data never reaches a log line ---------------------------------------------
# Keys whose values are user content or secrets: the value is replaced, the key kept so the
# line still says that something was there.
REDACTED = "[redacted]"
PRIVATE_KEYS = frozenset(
    {
        "text",
        "content",
        "message_text",
        "question",
        "answer",
        "prompt",
        "comment",
        "source_text",
        "user_text",
        "assistant_text",
        "snippet",
        "body",
        "parameters",
        "params",
        "password",
        "passwd",
        "token",
        "api_key",
        "apikey",
        "secret",
        "authorization",
        "emotion_key",
        "key_material",
        "cookie",
    }
)
_SECRET_PATTERNS = (
    (re.compile(r"mgn_[A-Za-z0-9_-]{8,}"), "mgn_" + REDACTED),  # Morgan API tokens
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"(?i)(://[^:/@\s]*:)[^@\s]+@"), r"\1" + REDACTED + "@"),  # URL passwords
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|secret|api[_-]?key|token|access_key|secret_key)"
            r"(\s*[=:]\s*)[^\s,;&\"']+"
        ),
        r"\1\2" + REDACTED,
    ),
    # SQLAlchemy appends statement parameters to error text; hide_parameters drops them,
    # and this catches any other path.
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: " + REDACTED + "]"),
)


def redact_text(value: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        value = pattern.sub(replacement, value)
    return value


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() in PRIVATE_KEYS else _redact_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: user content and secrets are replaced before rendering."""
    for key, value in list(event_dict.items()):
        if key.lower() in PRIVATE_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(value)
    return event_dict


class RedactingFilter(logging.Filter):
    """The same rules for stdlib log records (uvicorn, SQLAlchemy, libraries)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string still gets logged
            message = str(record.msg)
        record.msg, record.args = redact_text(message), None
        if record.exc_info:
            record.msg += "\n" + redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info, record.exc_text = None, None
        return True


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    for noisy in ("httpx", "httpcore", "botocore", "aiobotocore"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


Stage = Literal["rag_search", "emotion_detection"]


class Metrics:
    """One registry per app, so tests and several apps in one process don't collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "morgan_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "morgan_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.dependency_up = Gauge(
            "morgan_dependency_up",
            "1 when a dependency is up (or intentionally off)",
            ["component", "backend"],
            registry=self.registry,
        )
        stage_buckets = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
        self.stages: dict[Stage, Histogram] = {
            "rag_search": Histogram(
                "morgan_rag_search_duration_seconds",
                "Retrieval for one question: search, fusion, passages, rerank",
                buckets=stage_buckets,
                registry=self.registry,
            ),
            "emotion_detection": Histogram(
                "morgan_emotion_detection_duration_seconds",
                "Emotion detection for one message",
                buckets=stage_buckets,
                registry=self.registry,
            ),
        }
        self.llm_fallbacks = Counter(
            "morgan_llm_fallbacks_total",
            "LLM backend failures in the fallback chain (the next backend answers), by failed backend",
            ["backend"],
            registry=self.registry,
        )


_CURRENT: ContextVar[Metrics | None] = ContextVar("morgan_metrics", default=None)
"""The metrics of the app serving the current request (set by the request middleware), so
library code records into its app's registry without being handed one; tasks a request
spawns inherit it. Outside a request (CLI, scripts) recording does nothing."""

P = ParamSpec("P")
R = TypeVar("R")


def observe_stage(stage: Stage, seconds: float) -> None:
    metrics = _CURRENT.get()
    if metrics is not None:
        metrics.stages[stage].observe(seconds)


def count_llm_fallback(backend: str) -> None:
    metrics = _CURRENT.get()
    if metrics is not None:
        metrics.llm_fallbacks.labels(backend).inc()


def timed(
    stage: Stage,
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorator: the coroutine's wall time, failures included, into `stage`'s histogram."""

    def decorate(func: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.perf_counter()
            try:
                return await func(*args, **kwargs)
            finally:
                observe_stage(stage, time.perf_counter() - start)

        return wrapper

    return decorate


def _allowed(scope: Any) -> str:
    """Every method of the route: Litestar's automatic OPTIONS answer can name only some
    when a path's handlers are registered separately."""
    app, template = scope.get("litestar_app"), scope.get("path_template")
    if app is None or not template:
        return ""
    methods: set[str] = set()
    for path, handlers in app.route_handler_method_map.items():
        if _PARAM_TYPE.sub("}", path) == template:  # "{id:uuid}" in the map, "{id}" in scope
            methods.update(handlers)
    return ", ".join(sorted(methods))


def request_id_for(scope: Any) -> str:
    """The request's id: a sane `X-Request-ID` from the caller, else a new one; kept in scope."""
    state = scope.setdefault("state", {})
    if state.get("request_id"):
        return str(state["request_id"])
    incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
    state["request_id"] = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
    return str(state["request_id"])


def request_context_middleware(metrics: Metrics) -> Any:
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            request_id = request_id_for(scope)
            structlog.contextvars.bind_contextvars(request_id=request_id)
            current = _CURRENT.set(metrics)
            status_holder = {"status": 500}
            start = time.perf_counter()

            async def send_wrapper(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder["status"] = message["status"]
                    headers = list(message.get("headers") or [])
                    if not any(k.lower() == b"x-request-id" for k, _ in headers):
                        headers.append((b"x-request-id", request_id.encode()))
                    if scope.get("method") == "OPTIONS" and (allowed := _allowed(scope)):
                        headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
                        headers.append((b"allow", allowed.encode()))
                    message["headers"] = headers  # type: ignore[typeddict-unknown-key]
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            finally:
                route = scope.get("path_template") or "unmatched"
                method = scope.get("method", "GET")
                metrics.requests.labels(method, route, str(status_holder["status"])).inc()
                metrics.latency.labels(method, route).observe(time.perf_counter() - start)
                structlog.contextvars.unbind_contextvars("request_id")
                _CURRENT.reset(current)

        return middleware

    return factory
