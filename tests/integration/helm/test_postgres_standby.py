"""The chart's PostgreSQL standby scripts, run against local PostgreSQL binaries.

From the rendered two-gpus example: the primary's init script (replication role), the
standby's `base-backup` init container (pg_basebackup through a replication slot) and its
readiness script. Real servers on free ports, as the local `postgres` user (the image's uid
999 has no passwd entry here, and PostgreSQL refuses root). Stand-ins, as in run_workload:
the primary's Service host/port become 127.0.0.1 and its local port, the data/run/scripts
volumes become folders (the readiness script's socket path with them). The docker image's
entrypoint is emulated by initdb + createdb + running the init script; Kubernetes itself
(StatefulSet ordering, the kubelet's probe timing) is not exercised.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helm import run_workload as rw

pytestmark = [pytest.mark.helm, pytest.mark.slow]

PG_BIN = (
    sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    if Path("/usr/lib/postgresql").is_dir()
    else None
)
LOCAL_PG_USER = "postgres"


def _uid() -> int:
    import pwd

    return pwd.getpwnam(LOCAL_PG_USER).pw_uid


def _run(
    args: list[str],
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    uid = _uid()
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *args],
        env={"PATH": f"{PG_BIN}:/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def _pg_ctl(data: Path, port: int, socket_dir: Path, action: str) -> None:
    options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1"
    result = _run(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(data.parent / "server.log"),
            "-w",
            "-m",
            "fast",
            action,
        ],
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr + _log(data)


def _log(data: Path) -> str:
    log = data.parent / "server.log"
    return log.read_text()[-3000:] if log.exists() else ""


def _chown_tree(path: Path) -> None:
    uid = _uid()
    for p in (path, *path.rglob("*")):
        os.chown(p, uid, uid)


@pytest.fixture
def root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="morgan-standby-"))
    folder.chmod(0o755)
    # PostgreSQL runs as its own user here, so the folders the workloads create must be
    # traversable by it; a Morgan server started earlier in this process set a 077 umask.
    previous = os.umask(0o022)
    try:
        yield folder
    finally:
        os.umask(previous)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(PG_BIN is None, reason="needs PostgreSQL server binaries")
def test_standby_streams_through_a_slot_and_is_unready_when_replication_breaks(
    helm_bin: str, root: Path
) -> None:
    objects = rw.render(helm_bin, "-f", str(rw.CHART / "examples" / "two-gpus.yaml"))
    cluster = rw.Cluster(objects)
    primary_sts = rw.find(objects, "StatefulSet", f"{rw.RELEASE}-postgres")
    standby_sts = rw.find(objects, "StatefulSet", f"{rw.RELEASE}-postgres-standby")
    env = cluster.env(rw.container(primary_sts, "postgres"))

    # The primary, as the image's entrypoint makes it: initdb, the database, the init script.
    primary = root / "primary"
    (primary / "run").mkdir(parents=True)
    (primary / "pwfile").write_text(env["POSTGRES_PASSWORD"])
    _chown_tree(primary)
    data = primary / "pgdata"
    _run(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            env["POSTGRES_USER"],
            "--pwfile",
            str(primary / "pwfile"),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]
    )
    port = rw.free_port()
    _pg_ctl(data, port, primary / "run", "start")
    try:
        conn = {"PGHOST": str(primary / "run"), "PGPORT": str(port)}
        _run([str(PG_BIN / "createdb"), "-U", env["POSTGRES_USER"], env["POSTGRES_DB"]], env=conn)
        script = primary / "10-replication.sh"
        script.write_text(cluster.config_map(f"{rw.RELEASE}-postgres-init")["10-replication.sh"])
        script.chmod(0o755)
        _run(["/bin/sh", str(script)], env={**env, **conn, "PGDATA": str(data)})
        _pg_ctl(data, port, primary / "run", "reload")

        # The standby's init container, with the chart's env; then the server it prepared.
        standby_root = root / "standby"
        stand_ins = rw.StandIns(
            hosts={f"{rw.RELEASE}-postgres": "127.0.0.1"}, values={"5432": str(port)}
        )
        init = rw.prepare(
            cluster,
            standby_sts,
            "base-backup",
            stand_ins,
            standby_root,
            init=True,
            image_env={"PATH": f"{PG_BIN}:/usr/bin:/bin"},
        )
        init.uid = _uid()
        init.gid, init.groups = init.uid, ()  # the local postgres user, not the image's 999
        rw.run_to_completion(init, standby_root / "logs")
        standby_data = Path(init.env["PGDATA"])
        assert (standby_data / "standby.signal").exists()
        assert (
            "primary_slot_name = 'morgan_standby'"
            in (standby_data / "postgresql.auto.conf").read_text()
        )

        server = rw.prepare(cluster, standby_sts, "postgres", stand_ins, standby_root)
        socket_dir = server.mounts["/var/run/postgresql"]
        scripts = server.mounts["/scripts"]
        ready_sh = cluster.config_map(f"{rw.RELEASE}-postgres-standby-scripts")["standby-ready.sh"]
        (scripts / "standby-ready.sh").write_text(
            ready_sh.replace("/var/run/postgresql", str(socket_dir))
        )
        _chown_tree(standby_root / "volumes")
        standby_port = rw.free_port()
        _pg_ctl(standby_data, standby_port, socket_dir, "start")
        try:
            probe = server.probes["readinessProbe"]["exec"]["command"]
            probe_env = {**server.env, "PGPORT": str(standby_port)}

            def ready() -> bool:
                argv = [
                    str(scripts / "standby-ready.sh") if a == "/scripts/standby-ready.sh" else a
                    for a in probe
                ]
                return _run(argv, env=probe_env, check=False).returncode == 0

            assert _eventually(ready), _log(standby_data)
            slot = _run(
                [
                    str(PG_BIN / "psql"),
                    "-tAX",
                    "-U",
                    env["POSTGRES_USER"],
                    "-d",
                    env["POSTGRES_DB"],
                    "-c",
                    "SELECT active FROM pg_replication_slots WHERE slot_name = 'morgan_standby'",
                ],
                env=conn,
            ).stdout.strip()
            assert slot == "t"

            _pg_ctl(data, port, primary / "run", "stop")  # replication breaks
            assert _eventually(lambda: not ready()), "standby still ready without its primary"
        finally:
            _pg_ctl(standby_data, standby_port, socket_dir, "stop")
    finally:
        if (data / "postmaster.pid").exists():
            _pg_ctl(data, port, primary / "run", "stop")


def _eventually(check, timeout_s: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll a probe the way the kubelet does (periodically), up to a bound."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False
