"""One error tree for the whole server, mapped to HTTP in exactly one place.

Modules raise `MorganError` subclasses; `problem_details_handler` turns them into RFC 9457
problem-details bodies. Anything else becomes a 500 with the request id and no stack trace.
"""

from __future__ import annotations

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


class PayloadTooLarge(MorganError):
    status_code, code, title = 413, "payload_too_large", "Upload too large"


class UnsupportedDocument(MorganError):
    status_code, code, title = 422, "unsupported_document", "Document could not be read"


class DependencyUnavailable(MorganError):
    status_code, code, title = 503, "dependency_unavailable", "A dependency is unavailable"


class SchemaOutOfDate(MorganError):
    """Raised at start-up; the CLI prints it and exits instead of serving on an old schema."""

    status_code, code, title = 503, "schema_out_of_date", "Database schema is out of date"


PROBLEM_JSON = "application/problem+json"


def _problem(
    request: Request[Any, Any, Any], status: int, code: str, title: str, detail: str, **extra: Any
) -> Response[dict[str, Any]]:
    body = {
        "type": f"https://morgan.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": request.scope.get("state", {}).get("request_id", ""),
        **extra,
    }
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON)


def problem_details_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, MorganError):
        if exc.status_code >= 500:
            log.warning("request_failed", code=exc.code, detail=exc.detail)
        return _problem(request, exc.status_code, exc.code, exc.title, exc.detail, **exc.extra)
    if isinstance(exc, ValidationException):
        return _problem(
            request, 400, "validation_error", "Invalid request", str(exc.detail),
            errors=exc.extra if isinstance(exc.extra, list) else [],
        )
    if isinstance(exc, HTTPException):
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                413: "payload_too_large"}.get(exc.status_code, "http_error")
        return _problem(request, exc.status_code, code, str(exc.detail), str(exc.detail))
    log.exception("unhandled_error", exc_info=exc)
    return _problem(
        request, HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Internal error",
        "An unexpected error occurred; the request id identifies it in the server log.",
    )


EXCEPTION_HANDLERS = {Exception: problem_details_handler}
