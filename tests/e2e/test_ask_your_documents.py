"""The first slice end to end: a real server, the real CLI, real models, both databases."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import DOCUMENTS_DIR
from tests.e2e.conftest import RunningServer

pytestmark = pytest.mark.slow

SAMPLE = DOCUMENTS_DIR / "md" / "readability-README.md"
QUESTION = "What does isProbablyReaderable do?"


def test_ingest_then_ask_cites_the_document(server: RunningServer, tmp_path: Path) -> None:
    doc = tmp_path / SAMPLE.name
    shutil.copy(SAMPLE, doc)
    ingested = server.cli("ingest", "--json", str(doc))
    assert ingested.returncode == 0, ingested.stderr
    summary = json.loads(ingested.stdout)
    assert summary["ingested"] == 1 and summary["errors"] == []
    document_id = summary["documents"][0]["document_id"]
    assert summary["documents"][0]["chunks"] > 3

    asked = server.cli("ask", "--json", input=QUESTION + "\n")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["sources"], answer
    assert answer["sources"][0]["document_id"] == document_id
    assert "[1]" in answer["text"]
    assert "readerable" in answer["text"].lower()

    again = server.cli("ingest", "--json", str(doc))
    assert json.loads(again.stdout)["skipped_duplicates"] == 1


def test_second_user_cannot_see_the_first_users_document(
    server: RunningServer, tmp_path: Path
) -> None:
    doc = tmp_path / "private.md"
    doc.write_text("# Secret\n\nThe launch code of project Zebrafish is tangerine-42.\n")
    assert server.cli("ingest", str(doc)).returncode == 0
    own = httpx.get(
        f"{server.url}/api/documents", headers={"Authorization": f"Bearer {server.token}"}
    )
    own_doc = next(d for d in own.json() if d["filename"] == "private.md")

    created = server.cli("users", "create", f"bob-{os.getpid()}-{id(tmp_path)}")
    assert created.returncode == 0, created.stderr
    bob = created.stdout.strip()
    assert bob.startswith("mgn_") and "\n" not in bob

    asked = server.cli("ask", "--json", "What is the launch code of project Zebrafish?", token=bob)
    assert asked.returncode == 0, asked.stderr
    assert all(s["document_id"] != own_doc["id"] for s in json.loads(asked.stdout)["sources"])
    headers = {"Authorization": f"Bearer {bob}"}
    assert (
        httpx.get(f"{server.url}/api/documents/{own_doc['id']}", headers=headers).status_code == 404
    )
    assert (
        httpx.delete(f"{server.url}/api/documents/{own_doc['id']}", headers=headers).status_code
        == 404
    )


def test_exit_codes(server: RunningServer) -> None:
    assert server.cli("ask", "hello", token="mgn_wrong").returncode == 4
    unreachable = server.cli("ask", "hello", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 3
    assert "cannot reach" in unreachable.stderr
    assert server.cli("ask", input="").returncode == 2
    assert server.cli("ingest", "/no/such/file").returncode == 2


def test_status_and_health(server: RunningServer) -> None:
    status = server.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    body = json.loads(status.stdout)
    names = {c["name"]: c for c in body["components"]}
    assert names["database"]["state"] == "up"
    assert names["reranker"]["state"] == "off"
    assert httpx.get(f"{server.url}/health/live").status_code == 200
    assert httpx.get(f"{server.url}/health/ready").status_code == 200
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "morgan_http_requests_total" in metrics and "morgan_dependency_up{" in metrics
    assert httpx.get(f"{server.url}/schema/openapi.json").json()["info"]["title"] == "Morgan"
