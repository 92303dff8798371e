"""The HNSW build of an Edge folder in a child process, so the server answers meanwhile.

`optimize()` holds the GIL for its whole duration (59 s at 50k points, 238 s at 200k on a
quiet machine): in the serving process nothing would answer, not even `/health/live`. Edge
allows one process per folder, so the parent closes the shard, starts
`python -m morgan.storage.vectors.build FOLDER --parent PID`, and opens the shard again once
the child exits, whatever its exit status: a build that crashed or was killed loses no
acknowledged point (writes were flushed before the parent closed), and the points are then
searched by filtered brute force until the next start-up builds again.

The child dies with the serving process (Linux: `PR_SET_PDEATHSIG`), so a `kill -9` of the
server never leaves an orphan holding the folder's lock. It writes `morgan-build.json` into
the folder (pid, phase) for status and tests. `MORGAN_VECTORS_BUILD_HOLD=FILE` (tests only)
makes it wait, holding the folder, until FILE exists: the build window becomes observable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = "morgan-build.json"
HOLD_ENV = "MORGAN_VECTORS_BUILD_HOLD"
EXIT_ORPHANED = 3


@dataclass
class Build:
    """A running child build, seen from the serving process."""

    process: asyncio.subprocess.Process
    points: int
    last_seconds: float | None
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def describe(self) -> str:
        last = f"; the last build took {self.last_seconds:.0f} s" if self.last_seconds else ""
        return (
            f"building the HNSW graph in process {self.process.pid}: {self.points:,} points, "
            f"{self.elapsed_s:.0f} s so far{last}; vector search returns when it ends "
            "(meanwhile retrieval is keyword-only)"
        )

    def retry_after_s(self) -> int:
        """Seconds until it likely ends (from the last build's duration), 5 to 60."""
        left = (self.last_seconds or 30.0) - self.elapsed_s
        return int(min(60.0, max(5.0, left)))


async def start(path: Path, *, points: int, last_seconds: float | None) -> Build:
    """Start the child; call it on the event loop's (main) thread: the child's death signal
    follows the thread that started it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "morgan.storage.vectors.build",
        str(path),
        "--parent",
        str(os.getpid()),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
    )
    return Build(process, points, last_seconds)


async def stop(build: Build) -> None:
    """Kill the child (the server is closing; the next start-up builds again)."""
    if build.process.returncode is None:
        build.process.kill()
    await build.process.wait()


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed
        sys.exit(EXIT_ORPHANED)


def _write_state(path: Path, **state: object) -> None:
    tmp = path / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **state}))
    tmp.replace(path / STATE_FILE)


def _hold() -> None:
    hold = os.environ.get(HOLD_ENV)
    while hold and not Path(hold).exists():
        time.sleep(0.05)  # tests only: a file the test creates when it has looked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the HNSW graph of an Edge folder.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    from morgan.storage.vectors.edge import open_shard, optimize_shard

    shard = open_shard(args.folder, dimension=0)  # the folder exists: its own config applies
    try:
        _write_state(args.folder, phase="holding" if os.environ.get(HOLD_ENV) else "optimizing")
        _hold()
        _write_state(args.folder, phase="optimizing")
        optimize_shard(shard, args.folder)
        _write_state(args.folder, phase="done")
    finally:
        shard.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
