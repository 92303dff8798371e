"""`morgan documents list|show|reingest|rm`: your library."""

from __future__ import annotations

import sys
from typing import Any

import click

from morgan.cli.client import EXIT_FAILED_ITEMS, ClientArgs, MorganClient, connection_options
from morgan.cli.output import emit_json, emit_rows, json_option, wants_json

PAGE = 1000
TYPES = {
    "pdf": ("application/pdf",),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    "html": ("text/html", "application/xhtml+xml"),
    "markdown": ("text/markdown",),
    "text": ("text/plain",),
}


@click.group("documents")
def documents_group() -> None:
    """List, inspect, re-ingest and remove documents in your library."""


def _all_documents(client: MorganClient) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    while True:
        page = client.json("GET", "/api/documents", params={"limit": PAGE, "offset": len(docs)})
        docs.extend(page)
        if len(page) < PAGE:
            return docs


@documents_group.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["pending", "processing", "ready", "failed"]),
    help="Only documents in this state (repeatable).",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice(sorted(TYPES)),
    help="Only this kind of file (repeatable).",
)
@click.option("--search", default=None, help="Title, file name or path contains this (any case).")
@json_option
@connection_options
def documents_list(
    statuses: tuple[str, ...],
    types: tuple[str, ...],
    search: str | None,
    as_json: bool,
    conn: ClientArgs,
) -> None:
    """Your documents, newest first; a table on a terminal, JSON otherwise."""
    client = conn.client()
    try:
        docs = _all_documents(client)
    finally:
        client.close()
    mimes = {m for t in types for m in TYPES[t]}
    needle = (search or "").casefold()
    docs = [
        d
        for d in docs
        if (not statuses or d["status"] in statuses)
        and (not mimes or d["mime"].split(";")[0] in mimes)
        and (
            not needle
            or any(needle in str(d[k]).casefold() for k in ("title", "filename", "source"))
        )
    ]
    emit_rows(
        docs,
        [
            ("id", lambda d: d["id"]),
            ("status", lambda d: d["status"]),
            ("chunks", lambda d: d["chunks"]),
            ("pages", lambda d: d["pages"]),
            ("title", lambda d: d["title"][:60]),
            ("source", lambda d: d["source"]),
        ],
        as_json=as_json,
        empty="no documents match"
        if (statuses or types or search)
        else "no documents yet: morgan ingest FOLDER",
    )


@documents_group.command("show")
@click.argument("document_id")
@json_option
@connection_options
def documents_show(document_id: str, as_json: bool, conn: ClientArgs) -> None:
    """One document: status, pages, size and chunks per granularity."""
    client = conn.client()
    try:
        doc = client.json("GET", f"/api/documents/{document_id}")
    finally:
        client.close()
    if wants_json(as_json):
        emit_json(doc)
        return
    per = doc.get("chunks_by_granularity") or {}
    for label, value in (
        ("id", doc["id"]),
        ("title", doc["title"]),
        ("source", doc["source"]),
        ("type", doc["mime"]),
        ("status", doc["status"]),
        ("pages", doc["pages"] if doc["pages"] is not None else "-"),
        ("size", f"{doc['size_bytes']} bytes"),
        (
            "chunks",
            f"{doc['chunks']} ("
            + ", ".join(f"{per.get(g, 0)} {g}" for g in ("coarse", "medium", "fine"))
            + ")",
        ),
        ("added", doc["created_at"][:19]),
        ("sha256", doc["content_hash"]),
    ):
        click.echo(f"{label:<8} {value}")


@documents_group.command("reingest")
@click.argument("document_ids", nargs=-1, required=True)
@json_option
@connection_options
def documents_reingest(document_ids: tuple[str, ...], as_json: bool, conn: ClientArgs) -> None:
    """Extract documents again from their stored originals (e.g. after an upgrade).

    The old chunks stay searchable until the new ones are in; each document gets a new id.
    Exit 1 when one of them fails.
    """
    from morgan.cli.ingest import wait_for_job

    client = conn.client()
    results = []
    try:
        for doc_id in document_ids:
            job = client.json("POST", f"/api/documents/{doc_id}/reingest")["jobs"][0]
            result = {"previous_id": doc_id, **wait_for_job(client, job, lambda _j: None)}
            results.append(result)
            if not wants_json(as_json):
                what = (
                    f"now {result['document_id']} ({result['chunks']} chunks)"
                    if result["status"] == "ingested"
                    else f"failed: {result['error']}"
                )
                click.echo(f"re-ingested {doc_id}: {what}")
    finally:
        client.close()
    if wants_json(as_json):
        emit_json(results)
    if any(r["status"] == "failed" for r in results):
        sys.exit(EXIT_FAILED_ITEMS)


@documents_group.command("rm")
@click.argument("document_ids", nargs=-1, required=True)
@connection_options
def documents_rm(document_ids: tuple[str, ...], conn: ClientArgs) -> None:
    """Remove documents: their file, rows and vectors."""
    client = conn.client()
    try:
        for doc_id in document_ids:
            client.request("DELETE", f"/api/documents/{doc_id}")
            click.echo(f"removed {doc_id}", err=True)
    finally:
        client.close()
