"""Load test: N users mixing chat, streamed chat, ingest, lists and feedback against a server.

Each user has a token of its own (per-token rate limits apply as in production). Per operation
it reports p50/p95/p99 latency, error rate (5xx and transport errors; 429/503 back-pressure is
counted apart, since the server answers it at once by design) and throughput, then counts every
acknowledged write (answers, uploads, feedback) in the database: `lost` must be 0.

    python scripts/load_test.py --users 50 --duration 60 --database sqlite --out load.json
    python scripts/load_test.py --users 50 --duration 60 --database postgresql

It starts its own `morgan serve` on a temp MORGAN_HOME (`--database postgresql` creates a
database on MORGAN_TEST_PG_ADMIN) unless `--url` and `--database-url` name a running one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import percentile

OPS = {"chat": 4, "stream": 2, "ingest": 1, "lists": 3, "feedback": 1}
QUESTIONS = [
    "How much sun do tomatoes need?",
    "When should basil come inside?",
    "I feel a bit overwhelmed today, any advice?",
    "What did the notes say about watering?",
    "Summarise my garden notes.",
    "Which plants hate cold nights?",
]
NOTE = (
    "# Garden notes {n}\n\nTomatoes need six hours of sun. Basil hates nights below ten degrees.\n"
)


@dataclass
class Stats:
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    codes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    acked_messages: set[str] = field(default_factory=set)
    acked_documents: set[str] = field(default_factory=set)
    acked_feedback: set[tuple[str, str]] = field(default_factory=set)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env_extra: dict[str, str]) -> tuple[subprocess.Popen[str], str, dict[str, str]]:
    home = Path(tempfile.mkdtemp(prefix="morgan-load-"))
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MORGAN_")},
        "MORGAN_HOME": str(home),
        "MORGAN_PORT": str(port),
        "MORGAN_LLM_URL": "extractive://",
        "MORGAN_LOG_LEVEL": "warning",
        "HF_HUB_OFFLINE": "1",
        **env_extra,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "morgan.cli", "serve", "--migrate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait for the listening socket, an event
        if "Uvicorn running on" in line:
            break
    else:
        raise RuntimeError("server exited during start-up")
    threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
    return proc, f"http://127.0.0.1:{port}", env


SERVER_LOG: list[str] = []


def _drain(stream: Any) -> None:
    """Keep reading the server's output (a full pipe would stall it); keep it for the report."""
    for line in stream:
        SERVER_LOG.append(line)


async def create_tokens(database_url: str, n: int) -> list[str]:
    from morgan.auth import AuthService
    from morgan.storage.db import Database

    db = Database(database_url)
    try:
        auth = AuthService(db)
        return [(await auth.create_user(f"load-{uuid.uuid4().hex[:8]}"))[1] for _ in range(n)]
    finally:
        await db.close()


async def one_op(client: httpx.AsyncClient, op: str, stats: Stats, rng: random.Random) -> None:
    start = time.perf_counter()
    status = "error"
    try:
        if op == "chat":
            r = await client.post("/api/chat", json={"message": rng.choice(QUESTIONS)})
            status = str(r.status_code)
            if r.status_code == 200:
                stats.acked_messages.add(r.json()["message_id"])
        elif op == "stream":
            async with client.stream(
                "POST", "/api/chat/stream", json={"message": rng.choice(QUESTIONS)}
            ) as r:
                status = str(r.status_code)
                async for line in r.aiter_lines():
                    event = json.loads(line) if line.strip() else {}
                    if event.get("event") == "done":
                        stats.acked_messages.add(event["data"]["response"]["message_id"])
        elif op == "ingest":
            n = rng.randrange(10**9)
            r = await client.post(
                "/api/ingest", files={"file": (f"notes-{n}.md", NOTE.format(n=n).encode())}
            )
            status = str(r.status_code)
            if r.status_code == 200:
                stats.acked_documents.update(
                    d["document_id"] for d in r.json()["documents"] if d.get("document_id")
                )
        elif op == "lists":
            path = rng.choice(["/api/documents", "/api/conversations", "/api/status"])
            status = str((await client.get(path)).status_code)
        elif op == "feedback":
            key = uuid.uuid4().hex
            r = await client.post("/api/feedback", json={"rating": rng.randint(1, 5), "id": key})
            status = str(r.status_code)
            if r.status_code == 201:
                stats.acked_feedback.add((client.headers["authorization"], key))
    except (httpx.HTTPError, ValueError, KeyError):
        status = "error"
    stats.latency[op].append(time.perf_counter() - start)
    stats.codes[op][status] += 1


async def user_loop(url: str, token: str, deadline: float, stats: Stats, seed: int) -> None:
    rng = random.Random(seed)
    names, weights = list(OPS), list(OPS.values())
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as client:
        # Something to rate first, so feedback is not all 404.
        await one_op(client, "chat", stats, rng)
        while time.monotonic() < deadline:
            await one_op(client, rng.choices(names, weights)[0], stats, rng)


async def count_writes(database_url: str, stats: Stats) -> dict[str, int]:
    from sqlalchemy import func, select

    from morgan.storage.db import Database
    from morgan.storage.models import Document, Feedback, Message

    db = Database(database_url)
    try:
        async with db.session() as s:
            messages = {
                str(i)
                for i in await s.scalars(select(Message.id).where(Message.role == "assistant"))
            }
            documents = {str(i) for i in await s.scalars(select(Document.id))}
            feedback = int(await s.scalar(select(func.count()).select_from(Feedback)) or 0)
    finally:
        await db.close()
    lost_messages = len(stats.acked_messages - messages)
    lost_documents = len(stats.acked_documents - documents)
    lost_feedback = max(0, len(stats.acked_feedback) - feedback)
    return {
        "acknowledged": len(stats.acked_messages)
        + len(stats.acked_documents)
        + len(stats.acked_feedback),
        "lost": lost_messages + lost_documents + lost_feedback,
        "lost_messages": lost_messages,
        "lost_documents": lost_documents,
        "lost_feedback": lost_feedback,
    }


def summarise(stats: Stats, elapsed: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for op, values in stats.latency.items():
        codes = stats.codes[op]
        errors = sum(
            n for c, n in codes.items() if c == "error" or (c.startswith("5") and c != "503")
        )
        shed = codes.get("503", 0) + codes.get("429", 0)
        out[op] = {
            "requests": len(values),
            "throughput_per_s": round(len(values) / elapsed, 2),
            "p50_ms": round(percentile(values, 0.5) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            "error_rate": round(errors / max(1, len(values)), 4),
            "shed_rate": round(shed / max(1, len(values)), 4),
            "codes": dict(codes),
        }
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    proc = None
    url, database_url = args.url, args.database_url
    if url is None:
        extra = {"MORGAN_RATE_LIMIT_PER_MINUTE": str(args.rate_limit)}
        if args.database == "postgresql":
            import asyncpg

            admin = os.environ.get(
                "MORGAN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
            )
            name = f"morgan_load_{uuid.uuid4().hex[:8]}"
            conn = await asyncpg.connect(admin)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()
            database_url = (
                admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
                + f"/{name}"
            )
            extra["MORGAN_DATABASE_URL"] = database_url
        proc, url, env = start_server(extra)
        database_url = database_url or f"sqlite+aiosqlite:///{env['MORGAN_HOME']}/morgan.db"
    try:
        tokens = await create_tokens(database_url, args.users)
        stats = Stats()
        start = time.monotonic()
        deadline = start + args.duration
        await asyncio.gather(
            *(user_loop(url, t, deadline, stats, seed=i) for i, t in enumerate(tokens))
        )
        elapsed = time.monotonic() - start
        report = {
            "users": args.users,
            "duration_s": round(elapsed, 1),
            "database": args.database,
            "load_average": os.getloadavg(),
            "cpus": os.cpu_count(),
            "operations": summarise(stats, elapsed),
            "writes": await count_writes(database_url, stats),
            "server_log": {
                "database_is_locked": sum("database is locked" in line for line in SERVER_LOG),
                "unhandled_errors": sum("unhandled_error" in line for line in SERVER_LOG),
                "internal_error_responses": sum('" 500' in line for line in SERVER_LOG),
            },
        }
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", help="a running server (then --database-url too)")
    parser.add_argument("--database-url", help="its database, to count acknowledged writes")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=120,
        help="MORGAN_RATE_LIMIT_PER_MINUTE of the server it starts",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = asyncio.run(run(args))
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text)
    print(
        f"{'op':<10}{'n':>7}{'rps':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'err':>8}{'shed':>8}"
    )
    for op, s in report["operations"].items():
        print(
            f"{op:<10}{s['requests']:>7}{s['throughput_per_s']:>8}{s['p50_ms']:>10}{s['p95_ms']:>10}"
            f"{s['p99_ms']:>10}{s['error_rate']:>8}{s['shed_rate']:>8}"
        )
    print("writes:", report["writes"], "server log:", report.get("server_log"))
    print("load average:", report["load_average"], "cpus:", report["cpus"])


if __name__ == "__main__":
    main()
