"""Sample documents of every format through the real ingestion path in one batch.

Damaged, encrypted and image-only files are reported per file and never break the batch.
The biggest files (117-page GeoTopo, the 290 KB Wikipedia page) are left to the extraction
unit tests and `scripts/bench_ingest.py`: embedding their ~1,500 chunks on 2 CPU cores would
make this the suite's slowest test for no new coverage. SQLite only, for the same reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DOCUMENTS_DIR
from tests.integration.api.conftest import running_api

pytestmark = pytest.mark.slow

BATCH = [
    "pdf/minimal-document.pdf",
    "pdf/Seige_of_Vicksburg_Sample_OCR.pdf",
    "pdf/multicolumn.pdf",
    "pdf/issue-297.pdf",
    "pdf/libreoffice-writer-password.pdf",
    "pdf/imagemagick-CCITTFaxDecode.pdf",
    "docx/handbook-1p.docx",
    "docx/docx-tables.docx",
    "docx/having-images.docx",
    "html/fake-html-cp1252.html",
    "html/example-steelJIS-datasheet-utf-16.html",
    "md/umlauts-non-utf8.md",
    "md/readability-README.md",
]

EXPECTED_FAILURES = {
    "libreoffice-writer-password.pdf": "encrypted",
    "imagemagick-CCITTFaxDecode.pdf": "empty",
    "having-images.docx": "empty",
}


async def test_a_mixed_batch_ingests_with_clear_per_file_errors(tmp_path: Path) -> None:
    files = [DOCUMENTS_DIR / name for name in BATCH]
    assert {p.suffix for p in files} == {".pdf", ".docx", ".html", ".md"}
    async with running_api(
        f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", tmp_path / "home", MORGAN_MAX_UPLOAD_MB="50"
    ) as api:
        uploads = [("file", (p.name, p.read_bytes())) for p in files]
        r = await api.client.post("/api/ingest", files=uploads, headers=api.auth(), timeout=900)
        assert r.status_code == 200, r.text
        body = r.json()
        results = {d["source"]: d for d in body["documents"]}
        failed = {name: d["code"] for name, d in results.items() if d["status"] == "failed"}
        assert failed == EXPECTED_FAILURES
        for name, doc in results.items():
            if name not in EXPECTED_FAILURES:
                assert doc["status"] == "ingested" and doc["chunks"] > 0, name
                if name.endswith(".pdf"):
                    assert doc["pages"] >= 1, name
        assert results["Seige_of_Vicksburg_Sample_OCR.pdf"]["pages"] == 6
        assert body["chunks"] == sum(
            d["chunks"] for d in body["documents"] if d["status"] == "ingested"
        )

        answer = (
            await api.client.post(
                "/api/chat",
                json={"message": "What happened at the siege of Vicksburg?"},
                headers=api.auth(),
            )
        ).json()
        top = answer["sources"][0]
        assert "vicksburg" in (top["title"] + top["snippet"]).lower()
        assert top["page"] is not None  # PDF sources say which page

        docs = (await api.client.get("/api/documents", headers=api.auth())).json()
        assert len(docs) == len(files) - len(EXPECTED_FAILURES)
