"""One error tree for the whole server, mapped to HTTP in exactly one place.

Modules raise `MorganError` subclasses; `problem_details_handler` turns them into RFC 9457
problem-details bodies. Anything else becomes a 500 with the request id and no stack trace.
"""

from __future__ import annotations

import socket
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = structlog.get_logger(__name__)


class MorganError(Exception):
    status_code: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class BadRequest(MorganError):
    status_code, code, title = 400, "bad_request", "Bad request"


class Unauthorized(MorganError):
    status_code, code, title = 401, "unauthorized", "Missing or invalid API token"


class NotFound(MorganError):
    """Also used for other users' ids: never reveal that they exist (404, not 403)."""

    status_code, code, title = 404, "not_found", "Not found"


class Conflict(MorganError):
    status_code, code, title = 409, "conflict", "Conflict"


class DependencyUnavailable(MorganError):
    status_code, code, title = 503, "dependency_unavailable", "A dependency is unavailable"


class DatabaseUnavailable(DependencyUnavailable):
    code, title = "database_unavailable", "The database is unavailable"


class Overloaded(MorganError):
    """Back-pressure: the server is at its concurrency limit; try again shortly."""

    status_code, code, title = 503, "overloaded", "Server busy"


class TooManyRequests(MorganError):
    status_code, code, title = 429, "rate_limited", "Too many requests"


RETRY_AFTER_S = 5
"""`Retry-After` on every 503 unless the error names its own (extra `retry_after`)."""


class SchemaOutOfDate(MorganError):
    """Raised at start-up; the CLI prints it and exits instead of serving on an old schema."""

    status_code, code, title = 503, "schema_out_of_date", "Database schema is out of date"


PROBLEM_JSON = "application/problem+json"


def request_id_of(request: Request[Any, Any, Any]) -> str:
    """The id the request-context middleware bound; unmatched routes never reach it."""
    request_id = request.scope.get("state", {}).get("request_id", "")
    if not request_id:
        from morgan.observability import request_id_for

        request_id = request_id_for(request.scope)
    return str(request_id)


def _problem(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    request_id = request_id_of(request)
    body = {
        "type": f"https://morgan.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": request_id,
        **extra,
    }
    out_headers = {"x-request-id": request_id, **(headers or {})}
    if status in (429, 503):
        out_headers.setdefault("retry-after", str(extra.get("retry_after", RETRY_AFTER_S)))
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=out_headers)


def as_morgan_error(exc: BaseException) -> MorganError | None:
    """Storage failures that are not bugs: an unreachable or saturated database is a 503."""
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.TimeoutError):
        return DatabaseUnavailable("the database connection pool is exhausted; try again shortly")
    if isinstance(exc, sa.DBAPIError) and (
        exc.connection_invalidated
        or isinstance(exc, sa.OperationalError | sa.InterfaceError)
        or _unavailable_sqlstate(exc.orig)
    ):
        return DatabaseUnavailable("the database is unavailable; try again shortly")
    if _unavailable_sqlstate(exc):
        return DatabaseUnavailable("the database is starting or shutting down; try again shortly")
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        if _raised_inside(exc, ("sqlalchemy", "asyncpg", "aiosqlite")):
            return DatabaseUnavailable("the database is unreachable; try again shortly")
        return DependencyUnavailable("a storage dependency is unreachable; try again shortly")
    if type(exc).__module__.startswith("asyncpg") and "Connection" in type(exc).__name__:
        return DatabaseUnavailable("the database is unavailable; try again shortly")
    if isinstance(exc, sa.DataError):
        return BadRequest("a value is out of the range the database accepts")
    return None


def _unavailable_sqlstate(exc: BaseException | None) -> bool:
    """PostgreSQL's SQLSTATE classes 08 (connection exception) and 57P (operator
    intervention: shutting down, starting up, cannot connect now)."""
    state = str(getattr(exc, "sqlstate", "") or "")
    return state.startswith(("08", "57P"))


def database_down(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached (not a bug, not bad input)."""
    return isinstance(exc, DatabaseUnavailable) or isinstance(
        as_morgan_error(exc), DatabaseUnavailable
    )


def _raised_inside(exc: BaseException, packages: tuple[str, ...]) -> bool:
    """Whether the traceback passes through one of `packages` (connect errors are bare OSErrors)."""
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in packages:
            return True
        tb = tb.tb_next
    return False


def problem_details_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    mapped = exc if isinstance(exc, MorganError) else as_morgan_error(exc)
    if mapped is not None:
        if mapped.status_code >= 500:
            # The exception type only: driver messages can quote statement parameters.
            log.warning(
                "request_failed", code=mapped.code, detail=mapped.detail, cause=type(exc).__name__
            )
        return _problem(
            request, mapped.status_code, mapped.code, mapped.title, mapped.detail, **mapped.extra
        )
    if isinstance(exc, ValidationException):
        return _problem(
            request,
            400,
            "validation_error",
            "Invalid request",
            _validation_detail(exc),
            errors=exc.extra if isinstance(exc.extra, list) else [],
        )
    if isinstance(exc, HTTPException):
        code = {
            401: "unauthorized",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            429: "rate_limited",
        }.get(exc.status_code, "http_error")
        return _problem(
            request,
            exc.status_code,
            code,
            str(exc.detail),
            str(exc.detail),
            headers=dict(exc.headers or {}),
        )
    log.exception("unhandled_error", exc_info=exc)
    return _problem(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal error",
        "An unexpected error occurred; the request id identifies it in the server log.",
    )


def _validation_detail(exc: ValidationException) -> str:
    """The first field error in words ("message is longer than ..."), not only "failed for"."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = next((e for e in extra if isinstance(e, dict) and e.get("message")), None)
    if first is None:
        return str(exc.detail)
    key = f"{first['key']}: " if first.get("key") else ""
    return f"{key}{first['message']}"


# Why not Litestar's `ProblemDetailsPlugin` (litestar.plugins.problem_details, 2.25), measured
# against this handler on the same routes: (1) its converters get the exception only, not the
# request, so a body cannot carry `instance` or `request_id`, nor the response `x-request-id`;
# (2) with `enable_for_all_http_exceptions` a 404 is `{"status", "title", "detail"}` without
# `type`/`code`, a validation error puts the field errors under `extra` with the detail "Bad
# Request" (ours: `errors` and "n: Expected `int`, got `str`"); (3) a `MorganError` is not an
# `HTTPException`: a 429 became a plain-JSON 500 (no `Retry-After`); (4) it registers an
# app-level `HTTPException` handler, which Litestar picks (by MRO) over the OpenAI
# controller's own `Exception` handler, so `/v1` 404s and 400s would lose OpenAI's
# `{"error": ...}` shape. Matching all of that means a custom `exception_handler` and mapping
# for every type: this handler again, behind the plugin. So Morgan keeps its own.
EXCEPTION_HANDLERS = {Exception: problem_details_handler}
