"""Structured logs with request ids, and Prometheus metrics by route.

Every request gets an id (from `X-Request-ID` when the caller sends a sane one, else new);
it is bound into structlog's context so every log line of that request carries it, and it
is echoed in the response header and in problem-details bodies.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from litestar.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(message)s")
    for noisy in ("httpx", "httpcore", "botocore", "aiobotocore"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


class Metrics:
    """One registry per app, so tests and several apps in one process don't collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "morgan_http_requests_total", "HTTP requests", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "morgan_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.dependency_up = Gauge(
            "morgan_dependency_up", "1 when a dependency is up (or intentionally off)",
            ["component", "backend"], registry=self.registry,
        )


def request_context_middleware(metrics: Metrics) -> Any:
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
            request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
            scope.setdefault("state", {})["request_id"] = request_id
            structlog.contextvars.bind_contextvars(request_id=request_id)
            status_holder = {"status": 500}
            start = time.perf_counter()

            async def send_wrapper(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder["status"] = message["status"]
                    headers = list(message.get("headers") or [])
                    headers.append((b"x-request-id", request_id.encode()))
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

        return middleware

    return factory
