"""The CLI in-process with click's CliRunner against a real server (an isolated home)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from morgan.cli.main import cli
from tests.conftest import DOCUMENTS_DIR
from tests.e2e.conftest import RunningServer

pytestmark = pytest.mark.slow


@pytest.fixture
def run(server: RunningServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {"MORGAN_URL": server.url, "MORGAN_TOKEN": server.token, "MORGAN_HOME": str(tmp_path)}

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


def test_ingest_folder_reports_each_file_and_fails_on_bad_ones(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(DOCUMENTS_DIR / "md" / "pypdf-extract-text.md", folder)
    shutil.copy(DOCUMENTS_DIR / "pdf" / "libreoffice-writer-password.pdf", folder)
    (folder / "nested").mkdir()
    (folder / "nested" / "notes.txt").write_text(
        "Morgan keeps notes about the heron migration in May."
    )
    (folder / "ignored.bin").write_bytes(b"\x00\x01")
    (folder / "copyright").write_text("Files: *\nCopyright: 2026 The Heron Society\nLicense: MIT\n")
    (folder / "core").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(64))  # no extension, binary
    result = run("ingest", "--json", str(folder))
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    by_name = {Path(d["path"]).name: d for d in summary["documents"]}
    assert set(by_name) == {
        "pypdf-extract-text.md",
        "libreoffice-writer-password.pdf",
        "notes.txt",
        "copyright",
    }
    assert by_name["notes.txt"]["status"] == "ingested" and by_name["notes.txt"]["chunks"] >= 1
    assert by_name["copyright"]["status"] == "ingested" and by_name["copyright"]["sniffed"]
    assert by_name["libreoffice-writer-password.pdf"]["status"] == "failed"
    assert summary["errors"][0]["code"] == "encrypted"
    assert all(
        d["document_id"] for n, d in by_name.items() if n != "libreoffice-writer-password.pdf"
    )
    ignored = {Path(i["path"]).name: i["reason"] for i in summary["ignored"]}
    assert ignored == {
        "ignored.bin": "unsupported type .bin",
        "core": "no extension and not text, PDF or DOCX",
    }

    again = run("ingest", str(folder))  # nothing changed: the bad file is named as known-bad
    assert again.exit_code == 1
    assert "1 file failed before and is unchanged; pass --skip-failed" in again.stderr
    assert "0 ingested, 3 unchanged, 1 failed" in again.stdout
    assert "[2/4]" in again.stderr  # one progress line per file when stderr is not a terminal
    skipped = run("ingest", "--skip-failed", "--json", str(folder))
    assert skipped.exit_code == 0, skipped.output
    body = json.loads(skipped.stdout)
    assert body["skipped_failed"] == 1 and body["errors"] == [] and body["skipped_duplicates"] == 3


def test_ask_reads_stdin_and_prints_plain_text(run) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(DOCUMENTS_DIR / "md" / "pypdf-extract-text.md"))
    result = run("ask", input="How do I extract text from a PDF page with pypdf?\n")
    assert result.exit_code == 0, result.output
    assert "Sources:" in result.stdout and "[1]" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour codes when not a terminal


def test_ask_json_stream_gives_ndjson_events(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ask", "--json", "--stream", "extract_text layout mode")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "meta" and events[-1]["event"] == "done"


def test_conversation_continue_list_show_rm(run) -> None:  # type: ignore[no-untyped-def]
    first = json.loads(run("ask", "--json", "what is pypdf?").stdout)
    cid = first["conversation_id"]
    second = json.loads(run("ask", "--json", "--conversation", cid, "and layout mode?").stdout)
    assert second["conversation_id"] == cid
    listed = json.loads(run("conversations", "list", "--json").stdout)
    assert any(c["id"] == cid and c["messages"] == 4 for c in listed)
    shown = run("conversations", "show", cid)
    assert "user: what is pypdf?" in shown.stdout
    assert run("conversations", "rm", cid).exit_code == 0
    assert all(c["id"] != cid for c in json.loads(run("conversations", "list", "--json").stdout))
    assert run("ask", "--conversation", cid, "more?").exit_code == 2  # gone: 404 -> usage error


def test_documents_list_and_rm(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    note = tmp_path / "kettle.md"
    note.write_text("# Kettle\n\nDescale the kettle with citric acid every month.\n")
    doc_id = json.loads(run("ingest", "--json", str(note)).stdout)["documents"][0]["document_id"]
    assert doc_id in run("documents", "list").stdout
    assert run("documents", "rm", doc_id).exit_code == 0
    assert doc_id not in run("documents", "list").stdout
    assert run("documents", "rm", doc_id).exit_code == 2


def test_status_human_output(run) -> None:  # type: ignore[no-untyped-def]
    result = run("status")
    assert result.exit_code == 0
    assert "database" in result.stdout and "up" in result.stdout
    assert "reranker" in result.stdout and "off" in result.stdout


def test_usage_errors(run) -> None:  # type: ignore[no-untyped-def]
    assert run("ask", "--new", "--conversation", "x", "hi").exit_code == 2
    assert run("ask", "-", input="   \n").exit_code == 2


def test_feedback_defaults_to_the_last_answer_and_preferences_can_be_forgotten(run) -> None:  # type: ignore[no-untyped-def]
    answer = json.loads(run("ask", "--json", "What is pypdf?").stdout)
    rated = run("feedback", "4", "--json", "--comment", "useful")
    assert rated.exit_code == 0, rated.output
    assert json.loads(rated.stdout)["message_id"] == answer["message_id"]
    assert run("feedback", "9").exit_code == 2
    # (learning "keep it short" is asserted in tests/integration/api, where the queue can be
    # awaited; here: forgetting works from the CLI and is idempotent)
    assert run("preferences", "rm", "--all").exit_code == 0
    assert json.loads(run("preferences", "list", "--json").stdout) == []
    assert run("preferences", "rm", "answer_length").exit_code == 2  # nothing left to forget
    assert run("preferences", "rm").exit_code == 2


def test_cli_finds_its_server_from_the_settings_and_keeps_the_token_there(
    server: RunningServer, tmp_path: Path
) -> None:
    """The server records its URL next to the token; the client reads the same settings."""
    import socket
    import subprocess

    from tests.e2e.conftest import MORGAN

    assert (server.home / "token.url").read_text().strip() == server.url
    env = {k: v for k, v in server.env.items() if k not in ("MORGAN_URL", "MORGAN_TOKEN")}
    found = subprocess.run(
        [*MORGAN, "status", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert found.returncode == 0, found.stderr  # MORGAN_PORT alone leads to the server
    assert json.loads(found.stdout)["user"] == "local"

    with socket.socket() as other:  # someone else's server on another port
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        other.settimeout(0)
        other_url = f"http://127.0.0.1:{other.getsockname()[1]}"
        refused = subprocess.run(
            [*MORGAN, "status"],
            env={**env, "MORGAN_URL": other_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 4 and "refusing to send the token" in refused.stderr
        with pytest.raises(BlockingIOError):
            other.accept()  # nothing even connected, so no Authorization header was sent


def test_conversations_list_says_when_there_are_more(run) -> None:  # type: ignore[no-untyped-def]
    for q in ("first heron question", "second heron question", "third heron question"):
        assert run("ask", "--json", "--no-rag", q).exit_code == 0
    total = len(json.loads(run("conversations", "list", "--limit", "499").stdout))
    assert total >= 3
    page = run("conversations", "list", "--limit", "2")  # piped: JSON on stdout, note on stderr
    assert len(json.loads(page.stdout)) == 2
    assert f"showing 1-2 of {total}; use --offset 2 for more" in page.stderr
    last = run("conversations", "list", "--limit", "2", "--offset", str(total - 1))
    assert len(json.loads(last.stdout)) == 1 and "for more" not in last.stderr


def test_token_revoke_and_user_disable_take_effect_on_the_next_request(
    server: RunningServer,
) -> None:
    import uuid

    runner = CliRunner()
    admin_env = {k: v for k, v in server.env.items() if k.startswith("MORGAN_")}

    def admin(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), env=admin_env, catch_exceptions=False)

    def status_as(token: str) -> int:
        env = {**admin_env, "MORGAN_URL": server.url, "MORGAN_TOKEN": token}
        return runner.invoke(cli, ["status", "--json"], env=env).exit_code

    name = f"alice-{uuid.uuid4().hex[:6]}"
    first = admin("users", "create", name).stdout.strip()
    second = admin("users", "token", name).stdout.strip()  # `token NAME` still issues one
    assert first.startswith("mgn_") and second.startswith("mgn_") and first != second
    assert status_as(first) == 0

    tokens = {t["prefix"]: t for t in json.loads(admin("users", "token", "list", name).stdout)}
    assert tokens[first[:10]]["last_used_at"] is not None  # maintained by authentication
    assert tokens[second[:10]]["last_used_at"] is None

    assert admin("users", "token", "revoke", name, "--prefix", first[:10]).exit_code == 0
    assert status_as(first) == 4 and status_as(second) == 0
    assert admin("users", "token", "revoke", name, "--prefix", first[:10]).exit_code == 2

    assert admin("users", "disable", name).exit_code == 0
    assert status_as(second) == 4
    assert admin("users", "enable", name).exit_code == 0
    assert status_as(second) == 0
    assert admin("users", "token", "revoke", name).exit_code == 0
    assert status_as(second) == 4
    assert admin("users", "disable", "nobody-here").exit_code == 2


def test_documents_filters_and_show(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    note = tmp_path / "teapot-notes.md"
    note.write_text("# Teapot\n\nWarm the teapot first.\n\n## Leaves\n\nUse one spoon of leaves.\n")
    doc_id = json.loads(run("ingest", "--json", str(note)).stdout)["documents"][0]["document_id"]
    ids = lambda *args: {d["id"] for d in json.loads(run("documents", "list", *args).stdout)}
    assert doc_id in ids("--search", "TEAPOT") and doc_id in ids(
        "--type", "markdown", "--status", "ready"
    )
    assert doc_id not in ids("--type", "pdf") and doc_id not in ids("--status", "failed")
    assert doc_id not in ids("--search", "no-such-title-anywhere")
    assert run("documents", "list", "--type", "exe").exit_code == 2

    shown = json.loads(run("documents", "show", doc_id).stdout)
    assert shown["status"] == "ready" and shown["id"] == doc_id
    per = shown["chunks_by_granularity"]
    assert set(per) == {"coarse", "medium", "fine"} and sum(per.values()) == shown["chunks"]
    assert run("documents", "show", "00000000-0000-0000-0000-000000000000").exit_code == 2


def test_status_watch_prints_json_lines_when_piped(run) -> None:  # type: ignore[no-untyped-def]
    result = run("status", "--watch", "0.1", "--count", "3")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3 and all(line["components"] and line["at"] for line in lines)
    assert run("status", "--watch", "0").exit_code == 2


def test_documents_reingest_extracts_the_stored_original_again(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    note = tmp_path / "kettle-care.md"
    note.write_text("# Kettle care\n\nDescale the kettle with citric acid every month.\n")
    first = json.loads(run("ingest", "--json", str(note)).stdout)["documents"][0]
    note.unlink()  # the server keeps the original: the local file is not needed
    again = run("documents", "reingest", first["document_id"])
    assert again.exit_code == 0, again.output
    (result,) = json.loads(again.stdout)
    assert result["status"] == "ingested" and result["chunks"] == first["chunks"]
    assert result["document_id"] != first["document_id"]
    listed = {
        d["id"] for d in json.loads(run("documents", "list", "--search", "kettle-care").stdout)
    }
    assert listed == {result["document_id"]}  # replaced, not duplicated
    assert run("documents", "reingest", first["document_id"]).exit_code == 2  # the old id is gone


def test_a_server_that_cannot_listen_does_not_take_over_the_token(server: RunningServer) -> None:
    import socket
    import subprocess

    from tests.e2e.conftest import MORGAN

    with socket.socket() as taken:  # the port the second server wants is in use
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {**server.env, "MORGAN_PORT": str(port)}
        second = subprocess.run(
            [*MORGAN, "serve"], env=env, capture_output=True, text=True, timeout=300
        )
    assert second.returncode != 0
    assert (server.home / "token.url").read_text().strip() == server.url


def test_a_second_server_on_the_same_home_says_so_in_one_line(server: RunningServer) -> None:
    import subprocess

    from tests.e2e.conftest import MORGAN

    env = {**server.env, "MORGAN_PORT": "1"}  # never reached: the home is refused first
    second = subprocess.run(
        [*MORGAN, "serve"], env=env, capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 2
    errors = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, second.stderr
    assert "already uses" in errors[0] and str(server.home) in errors[0]
    assert "Traceback" not in second.stderr


def test_ask_spinner_goes_to_a_terminal_stderr_only(server: RunningServer, tmp_path: Path) -> None:
    env = {"MORGAN_URL": server.url, "MORGAN_TOKEN": server.token, "MORGAN_HOME": str(tmp_path)}
    runner = CliRunner()
    plain = runner.invoke(cli, ["ask", "--no-stream", "what is pypdf?"], env=env)
    # TTY_COMPATIBLE=1 makes rich treat stderr as a terminal, as it is in an interactive shell
    spun = runner.invoke(
        cli, ["ask", "--no-stream", "what is pypdf?"], env={**env, "TTY_COMPATIBLE": "1"}
    )
    assert plain.exit_code == 0 and spun.exit_code == 0, spun.output
    assert "thinking" not in plain.stderr
    assert "Morgan is thinking" in spun.stderr
    assert "thinking" not in spun.stdout and "\x1b[" not in spun.stdout
