"""`morgan ingest`: every file becomes a server-side job the CLI polls, one line of progress each.

Polling short requests (instead of one long upload-and-wait) means a busy server never trips the
client's timeout while it is still working. Files that failed before and have not changed are
remembered per server in MORGAN_HOME/ingest-failures.json, so a re-run can say so and
`--skip-failed` can leave them out (exit 0).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from morgan.cli.client import (
    EXIT_AUTH,
    EXIT_FAILED_ITEMS,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    ClientArgs,
    CLIError,
    MorganClient,
    connection_options,
)
from morgan.cli.output import emit_json

SUPPORTED_SUFFIXES = {
    ".pdf",
    ".docx",
    ".html",
    ".htm",
    ".xhtml",
    ".md",
    ".markdown",
    ".txt",
    ".text",
    ".rst",
}
SNIFF_BYTES = 8192
POLL_MAX_S = 1.0


@dataclass(frozen=True, slots=True)
class Candidate:
    path: Path
    sniffed: bool
    """True for a file without extension that was included because its bytes look like a document."""


def collect(paths: tuple[str, ...]) -> tuple[list[Candidate], list[dict[str, str]]]:
    """Files to send, and the ones left out with the reason (never dropped without a word)."""
    from morgan.rag.extract import looks_like_document

    files: list[Candidate] = []
    ignored: list[dict[str, str]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            files.append(Candidate(p, sniffed=False))  # named explicitly: the server decides
            continue
        if not p.is_dir():
            raise CLIError(f"no such file or folder: {raw}", EXIT_USAGE)
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            if f.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(Candidate(f, sniffed=False))
            elif f.suffix == "" or f.name.startswith("."):
                try:
                    with f.open("rb") as fh:
                        head = fh.read(SNIFF_BYTES)
                except OSError as exc:
                    ignored.append({"path": str(f), "reason": f"unreadable: {exc.strerror}"})
                    continue
                if looks_like_document(head):
                    files.append(Candidate(f, sniffed=True))
                else:
                    ignored.append(
                        {"path": str(f), "reason": "no extension and not text, PDF or DOCX"}
                    )
            else:
                ignored.append({"path": str(f), "reason": f"unsupported type {f.suffix.lower()}"})
    return files, ignored


class FailureMemory:
    """Which (path, content) pairs a server rejected, so unchanged bad files are named as such."""

    def __init__(self, home: Path, server_url: str) -> None:
        self.path = home / "ingest-failures.json"
        self.server = server_url
        try:
            self.data: dict[str, dict[str, dict[str, str]]] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def known(self, path: str, sha256: str) -> dict[str, str] | None:
        entry = self.data.get(self.server, {}).get(path)
        return entry if entry and entry.get("sha256") == sha256 else None

    def record(self, path: str, sha256: str, result: dict[str, Any]) -> None:
        mine = self.data.setdefault(self.server, {})
        if result["status"] == "failed":
            mine[path] = {
                "sha256": sha256,
                "error": str(result.get("error") or ""),
                "code": str(result.get("code") or ""),
            }
        else:
            mine.pop(path, None)

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=1))
            os.replace(tmp, self.path)
        except OSError:
            pass  # only a convenience: never fail an ingest because this cache can't be written


@click.command("ingest")
@click.argument("paths", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout.")
@click.option(
    "--skip-failed",
    is_flag=True,
    help="Leave out files that failed before and are unchanged (then exit 0).",
)
@click.option(
    "--cancel",
    "cancel_job",
    metavar="JOB",
    help="Stop ingestion job JOB (its id) and remove what it wrote.",
)
@connection_options
def ingest_command(
    paths: tuple[str, ...],
    as_json: bool,
    skip_failed: bool,
    cancel_job: str | None,
    conn: ClientArgs,
) -> None:
    """Add files or folders (recursive) to your library: PDF, DOCX, HTML, Markdown, text.

    Files without an extension (README, copyright) are included when their bytes look like text,
    PDF or DOCX. Progress goes to stderr: a bar on a terminal, one line per file otherwise.
    """
    from morgan.settings import load_settings

    if cancel_job:
        _cancel(conn, cancel_job, as_json)
        return
    if not paths:
        raise CLIError("name files or folders to ingest (or --cancel JOB)", EXIT_USAGE)

    candidates, ignored = collect(paths)
    if not candidates:
        for item in ignored:
            click.echo(f"ignored: {item['path']}: {item['reason']}", err=True)
        raise CLIError("no supported files found (pdf, docx, html, md, txt)", EXIT_USAGE)
    client = conn.client()
    memory = FailureMemory(load_settings().home, client.url)
    reporter = _Reporter(len(candidates), quiet=as_json)
    results: list[dict[str, Any]] = []
    known_bad: list[dict[str, Any]] = []
    try:
        with reporter:
            for i, cand in enumerate(candidates, 1):
                result = _one(client, cand, memory, skip_failed, reporter, i)
                if result.pop("known_bad", False):
                    known_bad.append(result)
                results.append(result)
                reporter.done(i, result)
    finally:
        client.close()
        memory.save()

    failed = [r for r in results if r["status"] == "failed"]
    summary = {
        "documents": results,
        "ingested": sum(1 for r in results if r["status"] in ("ingested", "replaced")),
        "skipped_duplicates": sum(1 for r in results if r["status"] == "skipped"),
        "skipped_failed": sum(1 for r in results if r["status"] == "skipped_failed"),
        "chunks": sum(
            r.get("chunks", 0) for r in results if r["status"] in ("ingested", "replaced")
        ),
        "errors": [
            {"path": r["path"], "error": r.get("error"), "code": r.get("code")} for r in failed
        ],
        "known_failures": len(known_bad),
        "ignored": ignored,
    }
    if as_json:
        emit_json(summary)
    else:
        for item in ignored:
            click.echo(f"ignored: {item['path']}: {item['reason']}", err=True)
        for r in failed:
            click.echo(f"failed: {r['path']}: {r.get('error')}", err=True)
        click.echo(
            f"{summary['ingested']} ingested, {summary['skipped_duplicates']} unchanged, "
            f"{len(failed)} failed, {summary['chunks']} chunks"
            + (f", {summary['skipped_failed']} known-bad skipped" if skip_failed else "")
            + (f", {len(ignored)} ignored" if ignored else "")
        )
    if known_bad and not skip_failed:
        noun = "file" if len(known_bad) == 1 else "files"
        verb = "is" if len(known_bad) == 1 else "are"
        click.echo(
            f"{len(known_bad)} {noun} failed before and {verb} unchanged; "
            "pass --skip-failed to leave them out",
            err=True,
        )
    if failed:
        sys.exit(EXIT_FAILED_ITEMS)


def _cancel(conn: ClientArgs, job_id: str, as_json: bool) -> None:
    client = conn.client()
    try:
        job = client.json("DELETE", f"/api/ingest/jobs/{job_id}")
    finally:
        client.close()
    if as_json:
        emit_json(job)
    else:
        click.echo(f"cancelled job {job['id']} ({job['source']}); nothing it wrote was kept")


def _one(
    client: MorganClient,
    cand: Candidate,
    memory: FailureMemory,
    skip_failed: bool,
    reporter: _Reporter,
    index: int,
) -> dict[str, Any]:
    path = cand.path
    try:
        data = path.read_bytes()
    except OSError as exc:
        return {"path": str(path), "status": "failed", "error": str(exc), "code": "unreadable"}
    source = str(path.resolve())
    digest = hashlib.sha256(data).hexdigest()
    before = memory.known(source, digest)
    if before and skip_failed:
        return {
            "path": str(path),
            "status": "skipped_failed",
            "document_id": None,
            "chunks": 0,
            "error": before["error"],
            "code": before["code"],
        }
    try:
        result = _run_job(client, path, data, source, reporter, index)
    except CLIError as exc:
        if exc.exit_code in (EXIT_UNREACHABLE, EXIT_AUTH):
            raise
        result = {
            "status": "failed",
            "error": exc.message,
            "code": "rejected",
            "document_id": None,
            "chunks": 0,
        }
    result = {"path": str(path), **result}
    if cand.sniffed:
        result["sniffed"] = True
    memory.record(source, digest, result)
    if before and result["status"] == "failed":
        result["known_bad"] = True
    return result


def _run_job(
    client: MorganClient, path: Path, data: bytes, source: str, reporter: _Reporter, index: int
) -> dict[str, Any]:
    files = {"file": (path.name, data, "application/octet-stream")}
    body = client.json(
        "POST",
        "/api/ingest",
        params={"wait": "false"},
        files=files,
        data={"source": source},
        retry_busy=True,
    )
    return wait_for_job(client, body["jobs"][0], lambda job: reporter.job(index, path.name, job))


def wait_for_job(client: MorganClient, job: dict[str, Any], on_update: Any) -> dict[str, Any]:
    """Poll an ingestion job until it ends; each poll is a short request, so no timeout trips."""
    delay = 0.1
    while job["status"] in ("queued", "running"):
        on_update(job)
        time.sleep(delay)  # a remote job: there is no event to await across HTTP
        delay = min(delay * 1.5, POLL_MAX_S)
        job = client.json("GET", f"/api/ingest/jobs/{job['id']}")
    status = {"succeeded": "ingested", "skipped": "skipped"}.get(job["status"], "failed")
    return {
        "status": status,
        "document_id": job.get("document_id"),
        "chunks": job.get("total", 0),
        "error": job.get("error"),
        "code": job.get("code"),
        "job_id": job["id"],
    }


class _Reporter:
    """Per-file progress on stderr: a rich bar on a terminal, plain lines when redirected."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.total = total
        self.console = Console(stderr=True)
        self.tty = self.console.is_terminal
        self.lines = not self.tty and not quiet
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.tty,
            transient=True,
        )
        self.overall = self.progress.add_task("ingesting", total=total)

    def __enter__(self) -> _Reporter:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def job(self, index: int, name: str, job: dict[str, Any]) -> None:
        stage = job.get("stage") or job["status"]
        counts = f" {job['done']}/{job['total']}" if job.get("total") else ""
        self.progress.update(self.overall, description=f"{name[:40]}: {stage}{counts}")

    def done(self, index: int, result: dict[str, Any]) -> None:
        self.progress.advance(self.overall)
        if self.lines:
            extra = (
                f" ({result.get('chunks', 0)} chunks)"
                if result["status"] in ("ingested", "replaced")
                else ""
            )
            why = (
                f": {result.get('error')}"
                if result["status"] in ("failed", "skipped_failed")
                else ""
            )
            click.echo(
                f"[{index}/{self.total}] {result['path']}: {result['status']}{extra}{why}", err=True
            )
