"""A threaded loopback HTTP server with fault injection, shared by the contract fakes.

Faults are armed per path and consumed by the next matching requests:
`error` answers with a status and a JSON body, `slow` holds the response until the fake
stops (so a client timeout fires without the test sleeping), `disconnect` closes the socket
after a few streamed lines, `stream_error` sends an error line after a few streamed lines.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self

FaultKind = Literal["error", "slow", "disconnect", "stream_error"]


@dataclass
class Fault:
    kind: FaultKind
    status: int = 500
    body: Any = None
    after_lines: int = 2
    times: int | None = 1
    """How many requests it affects; None = until cleared."""


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class _Disconnect(Exception):
    pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (timeout tests) is expected; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeHTTPServer:
    """Subclasses implement `handle(method, path, body) -> Response`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                fake._dispatch(self, "GET")

            def do_POST(self) -> None:
                fake._dispatch(self, "POST")

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults --------------------------------------------------------------------------
    def inject(self, path: str, fault: Fault) -> None:
        with self._lock:
            self._faults.setdefault(path, []).append(fault)

    def fail(self, path: str, status: int, message: str, *, times: int | None = 1) -> None:
        self.inject(path, Fault("error", status=status, body={"error": message}, times=times))

    def slow(self, path: str, *, times: int | None = 1) -> None:
        self.inject(path, Fault("slow", times=times))

    def disconnect(self, path: str, *, after_lines: int = 2, times: int | None = 1) -> None:
        self.inject(path, Fault("disconnect", after_lines=after_lines, times=times))

    def stream_error(
        self, path: str, message: str, *, after_lines: int = 2, times: int | None = 1
    ) -> None:
        self.inject(
            path,
            Fault("stream_error", body={"error": message}, after_lines=after_lines, times=times),
        )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path) or []
            if not queue:
                return None
            fault = queue[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    queue.pop(0)
            return fault

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # -- plumbing ------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """Return (status, payload); payload is a dict (JSON) or an iterator of stream lines."""
        raise NotImplementedError

    stream_content_type = "application/x-ndjson"

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        path = handler.path.split("?")[0]
        self.requests.append(RecordedRequest(method, path, body, dict(handler.headers.items())))
        fault = self._take_fault(path)
        if fault and fault.kind == "slow":
            self._release.wait(timeout=30)
            handler.close_connection = True
            return
        if fault and fault.kind == "error":
            self._send_json(handler, fault.status, fault.body)
            return
        status, payload = self.handle(method, path, body)
        if isinstance(payload, dict | list):
            self._send_json(handler, status, payload)
            return
        if fault and fault.kind == "stream_error":
            payload = self._with_error_line(payload, fault)
        after = fault.after_lines if fault and fault.kind == "disconnect" else None
        self._send_stream(handler, status, payload, disconnect_after=after)

    def error_line(self, body: Any) -> str:
        return json.dumps(body) + "\n"

    def _with_error_line(self, lines: Iterable[str], fault: Fault) -> Iterator[str]:
        for index, line in enumerate(lines):
            if index >= fault.after_lines:
                break
            yield line
        yield self.error_line(fault.body)

    def _send_json(self, handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()

    def _send_stream(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        lines: Iterable[str],
        *,
        disconnect_after: int | None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", self.stream_content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for index, line in enumerate(lines):
            if disconnect_after is not None and index >= disconnect_after:
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            data = line.encode()
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()


ECHO_PROMPT = "\x00echo the prompt\x00"
"""Pass as `reply=` to a fake LLM server to get every message of the request back as the
answer: the worst a model can do with a prompt (system text, sources and question)."""


def echo_text(body: Any) -> str:
    return "\n\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def words(text: str) -> Iterator[str]:
    """Split an answer into token-like deltas whose concatenation is the text."""
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or text[index] == " ":
            yield text[start:index]
            start = index
