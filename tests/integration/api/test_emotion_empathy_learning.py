"""Issue 5 end to end through /api/chat: emotion shapes the prompt, data is encrypted at rest,
preferences and feedback change later answers and rankings.

The LLM is the Ollama contract fake, so the exact prompt and sampling settings Morgan sends
can be read back; emotion detection, empathy and learning are the real modules.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from morgan.learning.feedback import cited_documents
from tests.contract_fakes.ollama import FakeOllama
from tests.integration.api.conftest import Api, running_api

pytestmark = pytest.mark.slow


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama(reply="Here is what your notes say [1].") as fake:
        yield fake


@pytest.fixture
async def api_llm(db_url: str, tmp_path: Path, ollama: FakeOllama) -> AsyncIterator[Api]:
    async with running_api(
        db_url,
        tmp_path / "home",
        MORGAN_LLM_URL=f"ollama://{ollama.base_url.split('://', 1)[1]}",
        MORGAN_LLM_MODEL="llama3.2",
    ) as running:
        yield running


def _last_chat(ollama: FakeOllama) -> tuple[str, dict]:  # type: ignore[type-arg]
    body = ollama.requests_to("/api/chat")[-1].body
    system = next(m["content"] for m in body["messages"] if m["role"] == "system")
    return system, body.get("options") or {}


async def _chat(api: Api, message: str, **extra: object) -> dict:  # type: ignore[type-arg]
    r = await api.client.post("/api/chat", json={"message": message, **extra}, headers=api.auth())
    assert r.status_code == 200, r.text
    return r.json()


EXPORT_GUIDE = (
    "# Export guide\n\nThe file format of the export is CSV: one file per project, in UTF-8.\n\n"
    "To restart the export, open the Jobs page and press Restart on the failed export job.\n\n"
    "The export logs are written to the logs folder of the data directory.\n\n"
    "The export settings are under Preferences, in the Export section.\n"
)


async def _ingest_export_guide(api: Api) -> None:
    """Answers are grounded or silent: questions about the export need a document that
    answers them, or the model is never asked."""
    r = await api.client.post(
        "/api/ingest", files={"file": ("export.md", EXPORT_GUIDE.encode())}, headers=api.auth()
    )
    assert r.status_code in (200, 201), r.text


async def _drain_learning(api: Api) -> None:
    await api.on_app_loop(api.services.learning_queue.join)


async def test_every_answer_carries_an_emotion_that_shapes_prompt_and_settings(
    api_llm: Api, ollama: FakeOllama
) -> None:
    await _ingest_export_guide(api_llm)
    angry = await _chat(api_llm, "I'm so angry and furious, this stupid export crashed again!")
    angry_system, angry_options = _last_chat(ollama)
    happy = await _chat(api_llm, "Yay!! I just got the promotion, I'm so happy and excited!")
    happy_system, happy_options = _last_chat(ollama)
    plain = await _chat(api_llm, "What is the file format of the export?")
    plain_system, _ = _last_chat(ollama)

    assert angry["emotion"]["ekman"] == "anger" and angry["emotion"]["intensity"] > 0.3
    assert happy["emotion"]["ekman"] == "joy"
    assert plain["emotion"]["label"] in {"neutral", "curiosity", "confusion"}
    assert len({angry["tone"], happy["tone"], plain["tone"]}) == 3
    assert len({angry_system, happy_system, plain_system}) == 3
    assert angry_options["temperature"] < happy_options["temperature"]
    assert angry_options["num_predict"] <= happy_options["num_predict"]
    assert angry["timings"] and all(0 <= v <= 1 for v in angry["emotion"]["scores"].values())


async def test_crisis_switches_to_the_safety_protocol(api_llm: Api, ollama: FakeOllama) -> None:
    before = len(ollama.requests_to("/api/chat"))
    answer = await _chat(api_llm, "I don't want to be here anymore, I want to end it all tonight")
    assert answer["tone"] == "safety" and answer["safety"] is True and answer["sources"] == []
    assert "If you are in danger now" in answer["text"]
    assert len(ollama.requests_to("/api/chat")) == before  # Morgan's own words (morgan.safety)
    # A negated mention is answered by the model, with the safety tone's prompt.
    negated = await _chat(
        api_llm, "Don't worry, I would never kill myself, exams are awful", rag=False
    )
    system, options = _last_chat(ollama)
    assert negated["safety"] is False and negated["tone"] == "safety"
    assert "emergency" in system.lower()
    assert options["temperature"] <= 0.2


async def test_emotional_states_are_encrypted_at_rest(api: Api) -> None:
    await _chat(api, "I am so angry and frustrated with this broken printer")
    await _drain_learning(api)

    async def raw_rows() -> list[tuple]:  # type: ignore[type-arg]
        async with api.services.db.session() as s:
            states = (await s.execute(text("SELECT * FROM emotional_states"))).all()
            triggers = (await s.execute(text("SELECT * FROM emotion_triggers"))).all()
            patterns = (await s.execute(text("SELECT * FROM emotion_patterns"))).all()
        return [*states, *triggers, *patterns]

    rows = await api.on_app_loop(raw_rows)
    assert rows, "the turn stored its emotional state"
    dump = repr(rows).lower()
    for plaintext in ("anger", "annoyance", "frustrat", "printer", "intensity"):
        assert plaintext not in dump
    history = (await api.client.get("/api/emotion/history", headers=api.auth())).json()
    assert history["entries"][-1]["ekman"] == "anger"


async def test_stated_preference_applies_at_once_is_learned_and_can_be_forgotten(
    api_llm: Api, ollama: FakeOllama
) -> None:
    await _ingest_export_guide(api_llm)
    await _chat(api_llm, "What is the file format of the export?")
    _, default_options = _last_chat(ollama)
    await _chat(api_llm, "Please keep it short from now on. How do I restart the export?")
    _, short_options = _last_chat(ollama)
    assert short_options["num_predict"] < default_options["num_predict"]

    await _drain_learning(api_llm)
    prefs = (await api_llm.client.get("/api/preferences", headers=api_llm.auth())).json()
    assert {p["key"]: p["value"] for p in prefs}.get("answer_length") == "short"
    await _chat(api_llm, "And where are the export logs?")
    _, later_options = _last_chat(ollama)
    assert later_options["num_predict"] == short_options["num_predict"]

    r = await api_llm.client.delete("/api/preferences/answer_length", headers=api_llm.auth())
    assert r.status_code == 204
    await _chat(api_llm, "And where are the export settings?")
    _, forgotten_options = _last_chat(ollama)
    assert forgotten_options["num_predict"] == default_options["num_predict"]


TEA_A = "# Tea notes A\n\nGreen tea should steep for two minutes in water at eighty degrees.\n"
TEA_B = "# Tea notes B\n\nSteep green tea two minutes; water at eighty degrees keeps it sweet.\n"
QUESTION = "How long should green tea steep and at what water temperature?"


async def test_feedback_moves_the_cited_document_in_later_rankings(api_llm: Api) -> None:
    api = api_llm  # the fake LLM cites only [1], the top source
    ids = {}
    for name, body in (("a.md", TEA_A), ("b.md", TEA_B)):
        r = await api.client.post(
            "/api/ingest", files={"file": (name, body.encode())}, headers=api.auth()
        )
        ids[name] = r.json()["documents"][0]["document_id"]
    first = await _chat(api, QUESTION)
    top = first["sources"][0]["document_id"]
    other = next(d for d in ids.values() if d != top)

    for i in range(3):
        r = await api.client.post(
            "/api/feedback",
            json={"message_id": first["message_id"], "rating": 1, "id": f"bad-{i}"},
            headers=api.auth(),
        )
        assert r.status_code == 201 and r.json()["recorded"], r.text
        assert set(r.json()["boosts"]) == {top}  # only the cited [1] pays
    again = await api.client.post(
        "/api/feedback",
        json={"message_id": first["message_id"], "rating": 1, "id": "bad-0"},
        headers=api.auth(),
    )
    assert again.json()["recorded"] is False  # idempotent by id

    second = await _chat(api, QUESTION)
    order = [s["document_id"] for s in second["sources"]]
    assert order.index(top) > order.index(other), "the document that gave bad answers sank"

    # Praise goes to exactly what the second answer cited (the evidence answer cites the
    # best-matching sentence, whichever note it is in), and that document ends on top.
    praised = cited_documents(second["text"], second["sources"])
    assert len(praised) == 1
    for i in range(6):
        r = await api.client.post(
            "/api/feedback",
            json={"message_id": second["message_id"], "rating": 5, "id": f"good-{i}"},
            headers=api.auth(),
        )
        assert set(r.json()["boosts"]) <= set(praised)
    third = await _chat(api, QUESTION)
    assert third["sources"][0]["document_id"] == praised[0]


async def test_feedback_on_someone_elses_answer_is_404(api: Api) -> None:
    answer = await _chat(api, "hello")
    bob = await api.new_user("bob")
    r = await api.client.post(
        "/api/feedback",
        json={"message_id": answer["message_id"], "rating": 5},
        headers=api.auth(bob),
    )
    assert r.status_code == 404
    r = await api.client.post(
        "/api/feedback", json={"message_id": str(uuid.uuid4()), "rating": 9}, headers=api.auth()
    )
    assert r.status_code == 400
