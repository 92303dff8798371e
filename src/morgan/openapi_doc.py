"""What the generated OpenAPI document leaves out, added once: errors, auth, uploads, streams.

Litestar documents each handler's success response and a 400; Morgan also answers 401, 404,
405, 413, 422, 429 and 503, all as `application/problem+json` (OpenAI's `{"error": ...}`
under `/v1`), needs a bearer token outside `/health` and `/metrics`, reads a multipart body
on `POST /api/ingest`, and streams NDJSON or Server-Sent Events. Clients and contract tests
(schemathesis) read this document, so it must say all of that.
"""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)

from morgan.errors import PROBLEM_JSON

ERRORS = {
    "400": "Invalid request (the detail names the field and the rule)",
    "401": "Missing or invalid API token",
    "404": "Not found (also another user's id)",
    "405": "Method not allowed (see the Allow header)",
    "413": "Body too large (JSON: MORGAN_MAX_JSON_KB; uploads: MORGAN_MAX_UPLOAD_MB)",
    "422": "Document could not be read",
    "429": "Rate limited (see Retry-After)",
    "503": "A dependency is unavailable or the server is busy (see Retry-After)",
}
PUBLIC = ("/health", "/metrics", "/schema")
_STR = Schema(type=OpenAPIType.STRING)
_NULLABLE_STR = Schema(one_of=[_STR, Schema(type=OpenAPIType.NULL)])
PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    description="RFC 9457 problem details",
    properties={
        "type": _STR,
        "title": _STR,
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": _STR,
        "code": _STR,
        "instance": _STR,
        "request_id": _STR,
    },
    required=["type", "title", "status", "detail", "code", "instance", "request_id"],
)
OPENAI_ERROR = Schema(
    type=OpenAPIType.OBJECT,
    properties={
        "error": Schema(
            type=OpenAPIType.OBJECT,
            properties={
                "message": _STR,
                "type": _STR,
                "param": _NULLABLE_STR,
                "code": _NULLABLE_STR,
            },
            required=["message", "type"],
        )
    },
    required=["error"],
)
UPLOAD = RequestBody(
    required=True,
    description="One or more files (`file`), each with an optional `source` naming it.",
    content={
        "multipart/form-data": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                properties={
                    "file": Schema(
                        type=OpenAPIType.ARRAY,
                        items=Schema(type=OpenAPIType.STRING, format="binary"),  # type: ignore[arg-type]
                    ),
                    "source": Schema(type=OpenAPIType.ARRAY, items=_STR),
                },
                required=["file"],
            )
        )
    },
)
_RETRY_AFTER: dict[str, OpenAPIHeader | Reference] = {
    "Retry-After": OpenAPIHeader(schema=Schema(type=OpenAPIType.INTEGER))
}
_ANY = OpenAPIMediaType(schema=Schema())


def complete_openapi(schema: OpenAPI) -> OpenAPI:
    components = schema.components if isinstance(schema.components, Components) else Components()
    schema.components = components
    components.schemas["ProblemDetails"] = PROBLEM
    components.schemas["OpenAIError"] = OPENAI_ERROR
    components.security_schemes = {
        "bearer": SecurityScheme(
            type="http", scheme="bearer", description="A Morgan API token (`mgn_...`)"
        )
    }
    for path, item in (schema.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            op = getattr(item, method, None)
            if op is not None:
                _complete(path, method, op)
    return schema


def _complete(path: str, method: str, op: Any) -> None:
    openai = path.startswith("/v1")
    ref = Reference(ref="#/components/schemas/" + ("OpenAIError" if openai else "ProblemDetails"))
    media = "application/json" if openai else PROBLEM_JSON
    responses = op.responses if op.responses is not None else {}
    for code, description in ERRORS.items():
        responses[code] = OpenAPIResponse(
            description=description,
            content={media: OpenAPIMediaType(schema=ref)},
            headers=_RETRY_AFTER if code in ("429", "503") else None,
        )
    if not path.startswith(PUBLIC):
        op.security = [{"bearer": []}]
    else:
        op.security = []
    if path == "/health/ready" and "200" in responses:  # not ready: the same body, 503
        responses["503"] = responses["200"]
    if path == "/api/ingest" and method == "post":
        op.request_body = UPLOAD
        responses["202"] = OpenAPIResponse(
            description="Jobs accepted (`wait=false`)", content={"application/json": _ANY}
        )
        responses["200"] = OpenAPIResponse(
            description="Ingestion summary", content={"application/json": _ANY}
        )
    if path == "/api/chat/stream":
        responses["200"] = OpenAPIResponse(
            description="NDJSON events (`application/x-ndjson`), or SSE with "
            "`Accept: text/event-stream`",
            content={"application/x-ndjson": _ANY, "text/event-stream": _ANY},
        )
    if path == "/v1/chat/completions" and "200" in responses:
        content = dict(responses["200"].content or {})
        content["text/event-stream"] = _ANY  # `stream: true`
        responses["200"].content = content
    op.responses = responses
