"""A bounded schemathesis run against a real server, on SQLite and on PostgreSQL.

Every operation in the OpenAPI document, through schemathesis's coverage (boundary and
negative values) and fuzzing phases: no 5xx, and every status, content type, header and
body as the document declares.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningServer

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    )
)
MAX_EXAMPLES = 15


def _st() -> str:
    beside = Path(sys.executable).parent / "st"
    found = str(beside) if beside.is_file() else shutil.which("st")
    if found is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[test]'")
    return found


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(
    server: RunningServer, tmp_path: Path
) -> None:
    run = subprocess.run(
        [
            _st(),
            "run",
            f"{server.url}/schema/openapi.json",
            "-H",
            f"Authorization: Bearer {server.token}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--workers",
            "1",
            "--seed",
            "12",
            "--no-color",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = run.stdout[-6000:]
    assert run.returncode == 0, summary + run.stderr[-2000:]
    assert "generated" in summary and "passed" in summary
    assert not any(" 500 " in line or "Internal Server Error" in line for line in server.log)
