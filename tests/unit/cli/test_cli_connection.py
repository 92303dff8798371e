"""Which server the CLI talks to, and that the local token never leaves for another one.

Real sockets: each "server" is a tiny HTTP stub on its own port that records every request's
headers, so "never receives the Authorization header" is observed, not assumed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from morgan.cli.main import cli

STATUS = {
    "version": "0",
    "mode": "embedded",
    "user": "stub",
    "components": [],
    "degraded": [],
    "counts": {"documents": 0, "chunks": 0, "conversations": 0},
}


@dataclass
class Stub:
    server: ThreadingHTTPServer
    requests: list[dict[str, str]] = field(default_factory=list)
    hold: threading.Event | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorizations(self) -> list[str]:
        return [r["authorization"] for r in self.requests if "authorization" in r]


def _start_stub(hold: threading.Event | None = None) -> Stub:
    stub: Stub

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stub.requests.append({k.lower(): v for k, v in self.headers.items()})
            if stub.hold is not None:
                stub.hold.wait()  # a server that is still working: the client's timeout decides
            body = json.dumps(STATUS).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stub = Stub(server, hold=hold)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return stub


@pytest.fixture
def stubs() -> Iterator[list[Stub]]:
    started: list[Stub] = []
    yield started
    for s in started:
        if s.hold is not None:
            s.hold.set()
        s.server.shutdown()
        s.server.server_close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("mgn_local_secret\n")
    return home


def invoke(home: Path, *args: str, **env: str):  # type: ignore[no-untyped-def]
    base = {
        "MORGAN_HOME": str(home),
        "MORGAN_URL": None,
        "MORGAN_TOKEN": None,
        "MORGAN_HOST": None,
        "MORGAN_PORT": None,
        "MORGAN_CLIENT_TIMEOUT": None,
    }
    return CliRunner().invoke(cli, list(args), env={**base, **env})


def test_settings_port_then_env_then_url_option(home: Path, stubs: list[Stub]) -> None:
    toml_stub, env_stub, url_stub, flag_stub = (_start_stub() for _ in range(4))
    stubs.extend([toml_stub, env_stub, url_stub, flag_stub])
    (home / "morgan.toml").write_text(f"[server]\nport = {toml_stub.port}\n")
    (home / "token.url").write_text(toml_stub.url)

    assert invoke(home, "status", "--json").exit_code == 0
    assert toml_stub.authorizations == ["Bearer mgn_local_secret"]

    # MORGAN_PORT beats morgan.toml, exactly as for `morgan serve`; the token file was issued
    # by the toml server, so the env-configured one gets a refusal and no request at all.
    moved = invoke(home, "status", MORGAN_PORT=str(env_stub.port))
    assert moved.exit_code == 4
    assert "refusing to send the token" in moved.output and env_stub.requests == []
    assert (
        invoke(home, "status", MORGAN_PORT=str(env_stub.port), MORGAN_TOKEN="mgn_b").exit_code == 0
    )
    assert env_stub.authorizations == ["Bearer mgn_b"]

    # MORGAN_URL beats the settings; --url beats MORGAN_URL.
    assert invoke(home, "status", MORGAN_URL=url_stub.url, MORGAN_TOKEN="mgn_c").exit_code == 0
    assert (
        invoke(
            home, "status", "--url", flag_stub.url, MORGAN_URL=url_stub.url, MORGAN_TOKEN="mgn_d"
        ).exit_code
        == 0
    )
    assert url_stub.authorizations == ["Bearer mgn_c"] and flag_stub.authorizations == [
        "Bearer mgn_d"
    ]


def test_local_token_never_reaches_another_server(home: Path, stubs: list[Stub]) -> None:
    mine, other = _start_stub(), _start_stub()
    stubs.extend([mine, other])
    (home / "token.url").write_text(f"http://localhost:{mine.port}")  # loopback spellings match

    assert invoke(home, "status", MORGAN_URL=mine.url).exit_code == 0
    refused = invoke(home, "status", MORGAN_URL=other.url)
    assert refused.exit_code == 4
    assert f"issued by the Morgan server at http://localhost:{mine.port}" in refused.output
    assert f"--url {other.url}" in refused.output and "Traceback" not in refused.output
    assert other.requests == []
    assert mine.authorizations == ["Bearer mgn_local_secret"]

    # An explicit --url is the user saying "this one": then it is sent.
    assert invoke(home, "status", "--url", other.url).exit_code == 0
    assert other.authorizations == ["Bearer mgn_local_secret"]


def test_token_file_without_issuer_is_bound_to_the_configured_server(
    home: Path, stubs: list[Stub]
) -> None:
    mine, other = _start_stub(), _start_stub()
    stubs.extend([mine, other])
    (home / "morgan.toml").write_text(f'[server]\nhost = "127.0.0.1"\nport = {mine.port}\n')
    assert not (home / "token.url").exists()  # a token file from before the binding
    assert invoke(home, "status").exit_code == 0
    assert invoke(home, "status", MORGAN_URL=other.url).exit_code == 4
    assert other.requests == [] and mine.authorizations == ["Bearer mgn_local_secret"]


@pytest.mark.parametrize(
    "bad", ["localhost:8000", "ftp://127.0.0.1:8000", "http://", "http://h:99999", "::"]
)
def test_malformed_url_is_a_usage_error(home: Path, bad: str) -> None:
    for result in (invoke(home, "status", "--url", bad), invoke(home, "status", MORGAN_URL=bad)):
        assert result.exit_code == 2, result.output
        assert "is not a server URL" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_timeout_is_configurable_and_says_how_to_wait_longer(home: Path, stubs: list[Stub]) -> None:
    busy = _start_stub(hold=threading.Event())
    stubs.append(busy)
    for args, env in ((["--timeout", "0.3"], {}), ([], {"MORGAN_CLIENT_TIMEOUT": "0.3"})):
        result = invoke(home, "status", "--url", busy.url, *args, **env)
        assert result.exit_code == 3, result.output
        assert "within 0.3 s" in result.output and "--timeout" in result.output
    assert invoke(home, "status", "--url", busy.url, "--timeout", "-1").exit_code == 2
    assert invoke(home, "status", "--url", busy.url, MORGAN_CLIENT_TIMEOUT="soon").exit_code == 2
