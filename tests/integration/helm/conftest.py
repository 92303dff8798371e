"""A real helm binary for chart tests: from PATH, from .tools/, or via scripts/fetch_helm.sh."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TOOLS = REPO / ".tools"


@pytest.fixture(scope="session")
def helm_bin() -> str:
    found = shutil.which("helm")
    if found:
        return found
    local = TOOLS / "helm"
    if not local.exists():
        subprocess.run(
            ["bash", str(REPO / "scripts" / "fetch_helm.sh"), str(TOOLS)],
            check=True,
            timeout=300,
        )
    return str(local)
