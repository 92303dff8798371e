"""Start-up with the HNSW build pending: time to the first answered `/health/live`, the first
answered chat, and vector search serving again, for `blocking` (the build before serving, as
before) and `background` (the build in a child process) in one run.

One Edge folder of `--points` random 384-d points (MiniLM's size; the build's cost depends on
the count and dimension) is written once, with no HNSW built; each mode starts a real
`morgan serve` on its own copy (so the build is due in both: MORGAN_VECTORS_OPTIMIZE_AT below
the count), extractive LLM, SQLite. Times are seconds from spawning the process; the chat
is sent as soon as `/health/live` answers and the token exists, then a chat a second until `/api/status` shows the vectors up (their latency: while the build runs).

    python scripts/bench_startup.py --points 50000 --out bench_startup.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np

DIM = 384
POLL_S = 0.05
CHAT_EVERY_S = 1.0


def seed(folder: Path, n: int) -> None:
    from morgan.storage.vectors import VectorPoint
    from morgan.storage.vectors.edge import EdgeVectorIndex

    rng = np.random.default_rng(0)
    users = [uuid.uuid4() for _ in range(2)]

    async def write() -> None:
        index = EdgeVectorIndex(folder, dimension=DIM, optimize_at=None)
        await index.ensure_collection()
        for start in range(0, n, 1000):
            m = min(1000, n - start)
            vectors = rng.normal(size=(m, DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            doc = uuid.uuid4()
            await index.upsert(
                [
                    VectorPoint(
                        chunk_id=uuid.uuid4(),
                        user_id=users[i % 2],
                        document_id=doc,
                        section_id=uuid.uuid4(),
                        granularity=("coarse", "medium", "fine")[i % 3],
                        dense=vectors[i].tolist(),
                        sparse_indices=[int(x) for x in rng.integers(0, 30000, 8)],
                        sparse_values=[1.0] * 8,
                    )
                    for i in range(m)
                ]
            )
        await index.close()

    asyncio.run(write())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vectors_state(client: httpx.Client) -> str:
    components = client.get("/api/status").json()["components"]
    return str(next(c["state"] for c in components if c["name"] == "vectors"))


def run_mode(mode: str, template: Path, points: int, work: Path) -> dict[str, Any]:
    home = work / mode
    shutil.copytree(template, home / "qdrant")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MORGAN_")},
        "MORGAN_HOME": str(home),
        "MORGAN_PORT": str(port),
        "MORGAN_LLM_URL": "extractive://",
        "MORGAN_LOG_LEVEL": "warning",
        "MORGAN_VECTORS_OPTIMIZE_AT": str(min(20_000, points // 2)),
        "MORGAN_VECTORS_STARTUP_BUILD": mode,
        "HF_HUB_OFFLINE": "1",
    }
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "morgan.cli", "serve", "--migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {"mode": mode, "points": points}
    try:
        with httpx.Client(base_url=url, timeout=900) as client:
            while True:
                try:
                    if client.get("/health/live").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(f"{mode}: the server exited ({proc.returncode})")
                time.sleep(POLL_S)
            out["first_live_s"] = round(time.perf_counter() - t0, 2)
            client.headers["Authorization"] = f"Bearer {(home / 'token').read_text().strip()}"
            sent = time.perf_counter()
            chat = client.post("/api/chat", json={"message": "what is in my library?"})
            chat.raise_for_status()
            out["first_chat_s"] = round(time.perf_counter() - t0, 2)
            out["first_chat_latency_ms"] = round((time.perf_counter() - sent) * 1000, 1)
            out["first_chat_degraded"] = chat.json()["degraded"]
            during: list[float] = []  # chats answered while the build runs (background)
            failed = 0
            while vectors_state(client) != "up":
                sent = time.perf_counter()
                answer = client.post("/api/chat", json={"message": "what is in my library?"})
                during.append((time.perf_counter() - sent) * 1000)
                failed += answer.status_code != 200
                time.sleep(CHAT_EVERY_S)  # a person's pace, under the per-minute rate limit
            out["vectors_serving_s"] = round(time.perf_counter() - t0, 2)
            out["chats_during_build"] = len(during)
            out["chats_during_build_not_200"] = failed
            if during:
                out["chat_during_build_p50_ms"] = round(float(np.percentile(during, 50)), 1)
                out["chat_during_build_max_ms"] = round(max(during), 1)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--modes", default="blocking,background")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        seed(work / "template", args.points)
        print(f"seeded {args.points} points in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        rows = [run_mode(m, work / "template", args.points, work) for m in args.modes.split(",")]
    result = {"load_average": os.getloadavg(), "rows": rows}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
