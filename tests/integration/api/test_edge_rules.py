"""Input rules at the edge, the same on SQLite and PostgreSQL: bad input is a 400, never a 500.

Each case once made PostgreSQL (and sometimes SQLite) answer 500: an offset beyond BIGINT,
NUL bytes, over-long filenames and feedback ids, a non-string OpenAI `user`, oversized JSON.
"""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Api, running_api

pytestmark = pytest.mark.slow

NUL = "a\x00b"


def _assert_problem(r, status: int = 400) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["request_id"] and "Traceback" not in r.text
    return body


async def _answer(api: Api) -> dict:
    r = await api.client.post("/api/chat", json={"message": "hello there"}, headers=api.auth())
    assert r.status_code == 200, r.text
    return r.json()


async def test_list_offsets_beyond_bigint_are_400(api: Api) -> None:
    for path in ("/api/documents", "/api/conversations"):
        for offset in (2**63, 2**64 + 1, 10**30, -1):
            r = await api.client.get(path, params={"offset": str(offset)}, headers=api.auth())
            _assert_problem(r)
        r = await api.client.get(path, params={"offset": "0", "limit": "5"}, headers=api.auth())
        assert r.status_code == 200


async def test_nul_and_control_characters_are_400_in_every_text_field(api: Api) -> None:
    answer = await _answer(api)
    conv = answer["conversation_id"]
    cases = [
        ("POST", "/api/chat", {"message": NUL}),
        ("POST", "/api/chat", {"message": "fine", "model": "x\x01"}),
        ("POST", "/api/chat/stream", {"message": "bell\x07"}),
        ("PATCH", f"/api/conversations/{conv}", {"title": NUL}),
        ("PATCH", f"/api/conversations/{conv}", {"title": "two\nlines"}),
        ("POST", "/api/feedback", {"rating": 4, "comment": NUL}),
        ("POST", "/api/feedback", {"rating": 4, "id": "k\x00"}),
        ("POST", "/api/emotion/analyze", {"text": NUL}),
    ]
    for method, path, body in cases:
        r = await api.client.request(method, path, json=body, headers=api.auth())
        problem = _assert_problem(r)
        assert "NUL" in problem["detail"] or "control character" in problem["detail"], problem
    # A newline and a tab are text in a message.
    ok = await api.client.post(
        "/api/chat", json={"message": "line one\n\tline two"}, headers=api.auth()
    )
    assert ok.status_code == 200, ok.text


def _multipart(filename: bytes, source: bytes | None = None) -> tuple[bytes, dict[str, str]]:
    """Raw multipart bytes: httpx would percent-encode a NUL in a filename."""
    boundary = b"edgeboundary"
    parts = [
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: text/plain\r\n\r\nsome text\r\n'
    ]
    if source is not None:
        parts.append(
            b"--"
            + boundary
            + b'\r\nContent-Disposition: form-data; name="source"\r\n\r\n'
            + source
            + b"\r\n"
        )
    body = b"".join(parts) + b"--" + boundary + b"--\r\n"
    return body, {"content-type": f"multipart/form-data; boundary={boundary.decode()}"}


async def test_filename_and_source_rules_reject_the_whole_upload(api: Api) -> None:
    for name, source in (
        (b"x" * 2000 + b".txt", None),
        (b"nul\x00.txt", None),
        (b"bell\x07.txt", None),
        (b"ok.txt", b"s" * 1025),
        (b"ok.txt", b"tab\x00"),
    ):
        body, headers = _multipart(name, source)
        r = await api.client.post("/api/ingest", content=body, headers={**headers, **api.auth()})
        problem = _assert_problem(r)
        assert "filename" in problem["detail"] or "source" in problem["detail"], problem
    docs = await api.client.get("/api/documents", headers=api.auth())
    assert docs.json() == []  # nothing stored, on either database


async def test_lengths_are_enforced_with_clear_messages(api: Api) -> None:
    await _answer(api)
    r = await api.client.post(
        "/api/feedback", json={"rating": 4, "id": "f" * 200}, headers=api.auth()
    )
    assert "longer than 128" in _assert_problem(r)["detail"]
    r = await api.client.post(
        "/api/feedback", json={"rating": 4, "id": "f" * 128}, headers=api.auth()
    )
    assert r.status_code == 201, r.text
    r = await api.client.post("/api/chat", json={"message": "m" * 32_001}, headers=api.auth())
    assert "longer than 32000" in _assert_problem(r)["detail"]
    conv = (await _answer(api))["conversation_id"]
    r = await api.client.patch(
        f"/api/conversations/{conv}", json={"title": "t" * 301}, headers=api.auth()
    )
    assert "longer than 300" in _assert_problem(r)["detail"]


async def test_openai_user_field_follows_the_spec(api: Api) -> None:
    body = {"model": "morgan-no-rag", "messages": [{"role": "user", "content": "hi"}]}
    ok = await api.client.post(
        "/v1/chat/completions", json={**body, "user": "end-user-42"}, headers=api.auth()
    )
    assert ok.status_code == 200, ok.text
    for bad in (7, {"id": 1}, ["a"], True):
        r = await api.client.post(
            "/v1/chat/completions", json={**body, "user": bad}, headers=api.auth()
        )
        assert r.status_code == 400, r.text
        assert r.json()["error"]["type"] == "invalid_request_error"
    r = await api.client.post(
        "/v1/chat/completions",
        json={**body, "messages": [{"role": "user", "content": NUL}]},
        headers=api.auth(),
    )
    assert r.status_code == 400 and "NUL" in r.json()["error"]["message"]


async def test_json_bodies_have_their_own_limit_below_the_upload_limit(
    db_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    async with running_api(db_url, tmp_path / "home", MORGAN_MAX_JSON_KB="16") as api:
        big = {"message": "word " * 5000}  # 25 KB of JSON
        r = await api.client.post("/api/chat", json=big, headers=api.auth())
        _assert_problem(r, 413)
        # The upload limit (2 MB here) still applies to files, not the JSON limit.
        r = await api.client.post(
            "/api/ingest",
            files={"file": ("notes.txt", b"plain words here. " * 2000)},
            headers=api.auth(),
        )
        assert r.status_code == 200, r.text


async def test_undeclared_methods_are_405_with_allow(api: Api) -> None:
    r = await api.client.put("/api/documents", headers=api.auth())
    problem = _assert_problem(r, 405)
    assert problem["code"] == "method_not_allowed"
    assert "GET" in r.headers["allow"]


async def test_options_names_every_method_of_the_path(api: Api) -> None:
    conv = (await _answer(api))["conversation_id"]
    for path, methods in (
        (f"/api/conversations/{conv}", {"GET", "PATCH", "DELETE", "OPTIONS"}),
        ("/api/preferences", {"GET", "DELETE", "OPTIONS"}),
        ("/api/documents", {"GET", "OPTIONS"}),
    ):
        r = await api.client.options(path, headers=api.auth())
        assert r.status_code == 204
        assert {m.strip() for m in r.headers["allow"].split(",")} == methods


async def test_unmatched_routes_carry_a_request_id(api: Api) -> None:
    r = await api.client.get("/no/such/route", headers={"X-Request-ID": "abc-123"})
    body = _assert_problem(r, 404)
    assert body["request_id"] == "abc-123" and r.headers["x-request-id"] == "abc-123"
    r = await api.client.get("/no/such/route")
    assert _assert_problem(r, 404)["request_id"] == r.headers["x-request-id"]


async def test_openai_transcript_import_is_deduplicated_and_capped(api: Api) -> None:
    history = [
        {"role": "user", "content": "my dog is called Rex"},
        {"role": "assistant", "content": "Good name."},
        {"role": "user", "content": "what is my dog called?"},
    ]
    body = {"model": "morgan-no-rag", "messages": history}
    first = await api.client.post("/v1/chat/completions", json=body, headers=api.auth())
    again = await api.client.post("/v1/chat/completions", json=body, headers=api.auth())
    assert first.status_code == again.status_code == 200, again.text
    cid = first.json()["morgan"]["conversation_id"]
    assert again.json()["morgan"]["conversation_id"] == cid
    conversations = (await api.client.get("/api/conversations", headers=api.auth())).json()
    assert [c["id"] for c in conversations] == [cid]
    messages = (
        await api.client.get(f"/api/conversations/{cid}/messages", headers=api.auth())
    ).json()
    imported = [m for m in messages if m["content"] in ("my dog is called Rex", "Good name.")]
    assert len(imported) == 2  # imported once, not once per request
    too_many = [{"role": "user", "content": f"m{i}"} for i in range(501)]
    r = await api.client.post(
        "/v1/chat/completions", json={"model": "morgan", "messages": too_many}, headers=api.auth()
    )
    assert r.status_code == 400
