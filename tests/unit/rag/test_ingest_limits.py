"""Hostile uploads end early with a clear per-file code, in bounded memory.

The heavy cases run in a subprocess under an address-space cap (`resource.setrlimit`), so a
regression shows as MemoryError or a kill instead of a slow machine; the subprocess timeout
is a hang guard, not a timing assertion.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import zipfile

import pytest

from morgan.rag.extract import ErrorCode, ExtractionError, extract
from morgan.rag.extract.limits import Budget, ExtractionCancelled, IngestLimits, check_html_depth

MEMORY_CAP_MB = 1536

_CHILD = textwrap.dedent(
    """
    import io, json, resource, sys, zipfile
    cap = int(sys.argv[1]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    from morgan.rag.extract import ExtractionError, extract
    from tests.unit.rag.test_ingest_limits import docx_bomb

    cases = {
        "line.txt": b"word " * (10 * 1024 * 1024),  # 50 MB, one line
        "bomb.docx": docx_bomb(190 * 1024 * 1024),
        "nested.html": b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000,
    }
    out = {}
    for name, data in cases.items():
        try:
            extract(data, name)
            out[name] = "ok"
        except ExtractionError as error:
            out[name] = [str(error.code), error.message]
        del data
    print(json.dumps(out))
    """
)


def docx_bomb(expanded: int) -> bytes:
    """A small DOCX whose document.xml unzips to `expanded` bytes (written in pieces)."""
    out = io.BytesIO()
    paragraph = b"<w:p><w:r><w:t>" + b"A" * 4000 + b"</w:t></w:r></w:p>"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxml'
            'formats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(
                b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats'
                b'.org/wordprocessingml/2006/main"><w:body>'
            )
            written = 0
            while written < expanded:
                part.write(paragraph * 256)
                written += len(paragraph) * 256
            part.write(b"</w:body></w:document>")
    return out.getvalue()


@pytest.mark.slow
def test_hostile_uploads_end_with_clear_codes_under_a_memory_cap() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(MEMORY_CAP_MB)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": ".", "PATH": "/usr/bin:/bin", "TOKENIZERS_PARALLELISM": "false"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    assert results["line.txt"][0] == "too_large"
    assert "characters" in results["line.txt"][1]
    assert results["bomb.docx"][0] == "too_large"
    assert "expand" in results["bomb.docx"][1]
    assert results["nested.html"][0] == "too_complex"
    assert "nested" in results["nested.html"][1]


def test_character_limit_applies_to_text_and_to_html_text() -> None:
    budget = Budget(IngestLimits(max_chars=1000))
    with pytest.raises(ExtractionError) as error:
        extract(b"x" * 1001, "a.txt", budget=budget)
    assert error.value.code is ErrorCode.TOO_LARGE
    page = "<html><body>" + "<p>ten chars</p>" * 200 + "</body></html>"
    with pytest.raises(ExtractionError) as error:
        extract(page.encode(), "a.html", budget=Budget(IngestLimits(max_chars=1000)))
    assert error.value.code is ErrorCode.TOO_LARGE
    # Markup does not count: the same page is fine with room for its text.
    assert extract(page.encode(), "a.html", budget=Budget(IngestLimits(max_chars=5000))).sections


def test_docx_text_parts_have_their_own_expansion_limit() -> None:
    bomb = docx_bomb(2 * 1024 * 1024)
    with pytest.raises(ExtractionError) as error:
        extract(bomb, "b.docx", budget=Budget(IngestLimits(max_expanded_bytes=1024 * 1024)))
    assert error.value.code is ErrorCode.TOO_LARGE and "text parts" in error.value.message


def test_nesting_depth_counts_real_nesting_not_sloppy_html() -> None:
    budget = Budget(IngestLimits(max_depth=50))
    sloppy = "<html><body>" + "<p>para<li>item<br><img src=x>" * 5000 + "</body></html>"
    check_html_depth(sloppy, budget)  # unclosed <p>/<li> and void tags are not depth
    script = "<script>" + "<div>" * 500 + "</script><div>ok</div>"
    check_html_depth(script, budget)  # inside <script> is text
    with pytest.raises(ExtractionError) as error:
        check_html_depth("<div>" * 51, budget)
    assert error.value.code is ErrorCode.TOO_COMPLEX


def test_wall_time_and_cancel_stop_extraction() -> None:
    expired = Budget(IngestLimits(max_seconds=0))
    with pytest.raises(ExtractionError) as error:
        extract(b"<html><body><p>hello</p></body></html>", "a.html", budget=expired)
    assert error.value.code is ErrorCode.TOO_COMPLEX and "longer than" in error.value.message
    cancelled = Budget()
    cancelled.cancel.set()
    with pytest.raises(ExtractionCancelled):
        extract(b"plain words", "a.txt", budget=cancelled)


def test_chunk_limit_is_too_large() -> None:
    budget = Budget(IngestLimits(max_chunks=10))
    budget.check_chunks(10)
    with pytest.raises(ExtractionError) as error:
        budget.check_chunks(11)
    assert error.value.code is ErrorCode.TOO_LARGE and "chunks" in error.value.message
