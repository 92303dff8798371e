"""The OpenAI-compatible API: the real app on both databases, and the official `openai` client
against the real app under a real uvicorn server."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
import uvicorn

from morgan.api.openai_stream import WhitespaceTrimmer
from morgan.app import create_app
from morgan.settings import load_settings
from tests.e2e.conftest import STARTUP_TIMEOUT_S, free_port
from tests.integration.api.conftest import Api

pytestmark = pytest.mark.slow

GUIDE = (
    "# Garden guide\n\n## Tomatoes\n\nTomatoes need six hours of direct sun and deep watering "
    "twice a week. Stake them early so the stems do not snap.\n\n## Basil\n\nBasil hates cold "
    "nights; bring it inside when the temperature drops below ten degrees.\n"
)
SUN = "How much sun do tomatoes need?"
BASIL = "When should basil come inside?"


async def _ingest(api: Api) -> str:
    r = await api.client.post(
        "/api/ingest", files={"file": ("garden.md", GUIDE.encode())}, headers=api.auth()
    )
    assert r.status_code == 200, r.text
    return str(r.json()["documents"][0]["document_id"])


async def _complete(api: Api, token: str | None = None, **body: Any) -> httpx.Response:
    return await api.client.post("/v1/chat/completions", json=body, headers=api.auth(token))


async def _stream(api: Api, **body: Any) -> list[str]:
    """The raw `data:` payloads of an SSE response, in order."""
    async with api.client.stream(
        "POST", "/v1/chat/completions", json={**body, "stream": True}, headers=api.auth()
    ) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in r.aiter_lines() if line.strip()]
    assert all(line.startswith("data: ") for line in lines), lines
    return [line.removeprefix("data: ") for line in lines]


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


async def test_models_list_in_openai_format_and_behind_the_token(api: Api) -> None:
    r = await api.client.get("/v1/models", headers=api.auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    assert {m["id"] for m in body["data"]} == {"morgan", "morgan-no-rag"}
    assert all(
        m["object"] == "model" and isinstance(m["created"], int) and m["owned_by"]
        for m in body["data"]
    )
    assert (await api.client.get("/v1/models/morgan", headers=api.auth())).json()["id"] == "morgan"

    for headers in ({}, {"Authorization": "Bearer mgn_wrong"}):
        denied = await api.client.get("/v1/models", headers=headers)
        assert denied.status_code == 401
        error = denied.json()["error"]
        assert (
            error["code"] == "invalid_api_key"
            and error["type"] == "invalid_request_error"
            and error["message"]
        )


async def test_completion_answers_from_documents_with_sources_usage_and_extra(api: Api) -> None:
    doc_id = await _ingest(api)
    r = await _complete(
        api,
        model="morgan",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": SUN},
                    {"type": "image_url", "image_url": {"url": "data:,"}},
                ],
            },
        ],
        temperature=0.2,
        top_p=0.9,
        max_tokens=200,
        frequency_penalty=0.5,
        logit_bias={},
        seed=7,
        user="someone-else",
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "morgan" and isinstance(body["created"], int)
    [choice] = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and "six hours" in choice["message"]["content"]
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    extra = body["morgan"]
    assert extra["sources"][0]["document_id"] == doc_id
    assert set(extra) >= {"conversation_id", "message_id", "sources", "degraded", "emotion"}

    # Same turn as Morgan's own API stored it, under the token's user (not the `user` field).
    messages = (
        await api.client.get(
            f"/api/conversations/{extra['conversation_id']}/messages", headers=api.auth()
        )
    ).json()
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == SUN
    assert (
        messages[1]["id"] == extra["message_id"]
        and messages[1]["content"] == choice["message"]["content"]
    )

    no_rag = (await _complete(api, model="morgan-no-rag", messages=[_user(SUN)])).json()
    assert no_rag["model"] == "morgan-no-rag" and no_rag["morgan"]["sources"] == []


async def test_stream_chunks_equal_the_whole_answer_and_end_with_done(api: Api) -> None:
    doc_id = await _ingest(api)
    whole = (await _complete(api, model="morgan", messages=[_user(BASIL)])).json()
    payloads = await _stream(
        api, model="morgan", messages=[_user(BASIL)], stream_options={"include_usage": True}
    )

    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "morgan" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    first, *middle, finish, usage_chunk = chunks
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["morgan"]["sources"][0]["document_id"] == doc_id  # early sources
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in [first, *middle])
    assert middle and text == whole["choices"][0]["message"]["content"]
    assert all(c["choices"][0]["finish_reason"] is None for c in [first, *middle])
    assert finish["choices"][0]["finish_reason"] == "stop" and finish["choices"][0]["delta"] == {}
    assert (
        finish["morgan"]["message_id"] and finish["morgan"]["sources"] == whole["morgan"]["sources"]
    )
    assert finish["morgan"]["text"] is None  # nothing changed after streaming
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] > 0

    without_usage = [
        json.loads(p) for p in (await _stream(api, model="morgan", messages=[_user(BASIL)]))[:-1]
    ]
    assert all("usage" not in c for c in without_usage)
    assert without_usage[-1]["choices"][0]["finish_reason"] == "stop"


async def test_errors_use_openai_shape_and_status(api: Api) -> None:
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        (
            {"model": "morgan", "messages": [{"role": "system", "content": "hi"}]},
            400,
            "bad_request",
        ),
        ({"model": "morgan", "messages": []}, 400, "bad_request"),
        (
            {"model": "morgan", "messages": [{"role": "wizard", "content": "hi"}]},
            400,
            "bad_request",
        ),
        (
            {"model": "morgan", "messages": [_user("hi"), {"role": "assistant", "content": "pre"}]},
            400,
            "bad_request",
        ),
        (
            {"model": "morgan", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            400,
            "bad_request",
        ),
        ({"model": "morgan", "messages": "hello"}, 400, "invalid_request"),
        ({"messages": [_user("hi")]}, 400, "invalid_request"),
        ({"model": "morgan", "messages": [_user("hi")], "n": 2}, 400, "bad_request"),
        ({"model": "gpt-4o", "messages": [_user("hi")]}, 404, "model_not_found"),
        (
            {
                "model": "morgan",
                "messages": [_user("hi")],
                "morgan": {"conversation_id": str(uuid.uuid4())},
            },
            404,
            "not_found",
        ),
    ]
    for body, status, code in cases:
        r = await _complete(api, **body)
        assert r.status_code == status, (body, r.status_code, r.text)
        error = r.json()["error"]
        assert error["code"] == code and error["message"], (body, error)
        assert error["type"] == "invalid_request_error"
    assert (await api.client.get("/api/conversations", headers=api.auth())).json() == []

    bad_key = await _complete(api, token="mgn_wrong", model="morgan", messages=[_user("hi")])
    assert bad_key.status_code == 401 and bad_key.json()["error"]["code"] == "invalid_api_key"
    bad_stream = await api.client.post(
        "/v1/chat/completions",
        headers=api.auth("mgn_wrong"),
        json={"model": "morgan", "messages": [_user("hi")], "stream": True},
    )
    assert bad_stream.status_code == 401


async def test_another_users_conversation_is_404_and_the_user_field_is_not_trusted(
    api: Api,
) -> None:
    ann = (await _complete(api, model="morgan", messages=[_user("hello there")])).json()
    cid = ann["morgan"]["conversation_id"]
    bob = await api.new_user("bob")
    for stream in (False, True):
        r = await _complete(
            api,
            token=bob,
            model="morgan",
            messages=[_user("and again")],
            stream=stream,
            morgan={"conversation_id": cid},
            user="local",
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    # Bob's own request with Ann's name in `user` lands in Bob's conversations only.
    await _complete(api, token=bob, model="morgan", messages=[_user("hi")], user="local")
    assert len((await api.client.get("/api/conversations", headers=api.auth(bob))).json()) == 1
    assert [
        c["id"] for c in (await api.client.get("/api/conversations", headers=api.auth())).json()
    ] == [cid]


async def test_conversation_continues_by_id_or_by_resent_transcript_and_imports_unknown_history(
    api: Api,
) -> None:
    first = (await _complete(api, model="morgan", messages=[_user("hello there")])).json()
    cid = first["morgan"]["conversation_id"]
    by_id = (
        await _complete(
            api, model="morgan", messages=[_user("second")], morgan={"conversation_id": cid}
        )
    ).json()
    assert by_id["morgan"]["conversation_id"] == cid

    # A stateless client (Open WebUI, `llm -c`) resends what it saw: same conversation.
    seen = [
        _user("hello there"),
        {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
    ]
    second = (await _complete(api, model="morgan", messages=[*seen, _user("again")])).json()
    assert second["morgan"]["conversation_id"] == cid
    seen += [
        _user("again"),
        {"role": "assistant", "content": second["choices"][0]["message"]["content"]},
    ]
    payloads = await _stream(api, model="morgan", messages=[*seen, _user("third")])
    assert json.loads(payloads[0])["morgan"]["conversation_id"] == cid
    msgs = (await api.client.get(f"/api/conversations/{cid}/messages", headers=api.auth())).json()
    assert [m["content"] for m in msgs if m["role"] == "user"] == [
        "hello there",
        "second",
        "again",
        "third",
    ]

    # A transcript Morgan never produced becomes a new conversation holding that history.
    made_up = [
        _user("my cat is called Tom"),
        {"role": "assistant", "content": "Nice name."},
        {"role": "system", "content": "be brief"},
        _user("what is my cat called?"),
    ]
    imported = (await _complete(api, model="morgan", messages=made_up)).json()
    new_cid = imported["morgan"]["conversation_id"]
    assert new_cid != cid
    msgs = (
        await api.client.get(f"/api/conversations/{new_cid}/messages", headers=api.auth())
    ).json()
    assert [(m["role"], m["content"]) for m in msgs][:3] == [
        ("user", "my cat is called Tom"),
        ("assistant", "Nice name."),
        ("user", "what is my cat called?"),
    ]
    assert len((await api.client.get("/api/conversations", headers=api.auth())).json()) == 2


# ---- the official `openai` client against a real server --------------------------------


@dataclass
class Served:
    url: str
    token: str


class _StartupWatcher(logging.Handler):
    """Sets `started` on uvicorn's "Uvicorn running on" line: an event, not a sleep.

    That line comes after the socket listens ("Application startup complete" comes before).
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.started = threading.Event()
        self.listening = False

    def emit(self, record: logging.LogRecord) -> None:
        if "Uvicorn running on" in record.getMessage():
            self.listening = True
            self.started.set()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real app under a real uvicorn server on a free port, in a thread of this process."""
    home = tmp_path_factory.mktemp("openai-home")
    settings = load_settings(
        {
            "MORGAN_HOME": str(home),
            "MORGAN_LLM_URL": "extractive://",
            "MORGAN_LOG_FORMAT": "console",
        }
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, migrate=True),
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
        )
    )
    watcher = _StartupWatcher()
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(watcher)
    previous_level = uvicorn_log.level
    uvicorn_log.setLevel(logging.INFO)

    def run() -> None:
        try:
            server.run()
        finally:
            watcher.started.set()  # a failed start-up must not leave the fixture waiting

    thread = threading.Thread(target=run, name="uvicorn-openai-test", daemon=True)
    thread.start()
    try:
        assert watcher.started.wait(STARTUP_TIMEOUT_S) and watcher.listening, (
            "uvicorn did not start"
        )
        url, token = f"http://127.0.0.1:{port}", (home / "token").read_text().strip()
        r = httpx.post(
            f"{url}/api/ingest",
            files={"file": ("garden.md", GUIDE.encode())},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        assert r.status_code == 200, r.text
        yield Served(url, token)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        uvicorn_log.removeHandler(watcher)
        uvicorn_log.setLevel(previous_level)


def _client(server: Served, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.url}/v1", api_key=key or server.token, max_retries=0, timeout=120
    )


def test_official_client_lists_models_and_streams_the_same_answer(served: Served) -> None:
    client = _client(served)
    assert {m.id for m in client.models.list()} == {"morgan", "morgan-no-rag"}

    whole = client.chat.completions.create(
        model="morgan", messages=[{"role": "user", "content": SUN}]
    )
    text = whole.choices[0].message.content
    assert text and "six hours" in text and whole.usage and whole.usage.total_tokens > 0
    extra = whole.model_extra["morgan"]  # type: ignore[index]
    assert extra["sources"] and extra["sources"][0]["title"]

    stream = client.chat.completions.create(
        model="morgan",
        messages=[{"role": "user", "content": SUN}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finish) == 1
    assert finish[0].model_extra["morgan"]["sources"] == extra["sources"]  # type: ignore[index]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0

    follow = client.chat.completions.create(
        model="morgan",
        messages=[{"role": "user", "content": BASIL}],
        extra_body={"morgan": {"conversation_id": extra["conversation_id"]}},
    )
    assert follow.model_extra["morgan"]["conversation_id"] == extra["conversation_id"]  # type: ignore[index]


def test_official_client_raises_its_own_errors(served: Served) -> None:
    with pytest.raises(openai.AuthenticationError):
        _client(served, key="mgn_wrong").models.list()
    with pytest.raises(openai.AuthenticationError):
        _client(served, key="mgn_wrong").chat.completions.create(
            model="morgan", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.NotFoundError) as missing:
        _client(served).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        _client(served).chat.completions.create(
            model="morgan", messages=[{"role": "system", "content": "hi"}]
        )


def test_streamed_deltas_concatenate_to_the_stored_stripped_answer() -> None:
    deltas = ["\n ", " Tomatoes", " need ", " ", "sun [1].", "\n\n", "Water", " twice.", "  \n"]
    trimmer = WhitespaceTrimmer()
    sent = "".join(trimmer.feed(d) for d in deltas)
    assert sent == trimmer.text == "".join(deltas).strip()
