"""The HTTP client the CLI and TUI share, with errors mapped to documented exit codes.

Which server: `--url` > `MORGAN_URL` > `[server] host/port` of the same settings the server
reads (`MORGAN_HOST`/`MORGAN_PORT`, `MORGAN_HOME/morgan.toml`) > http://127.0.0.1:8000.
The token file written by `morgan serve` is bound to the server that issued it
(`MORGAN_HOME/token.url`); it is never sent anywhere else unless `--url` names the target.
"""

from __future__ import annotations

import functools
import os
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click
import httpx
import msgspec

from morgan.chat.schemas import StreamEvent, decode_stream_event
from morgan.http_failures import HttpFailure, classify
from morgan.settings import Settings, SettingsError, load_settings

EXIT_OK = 0
EXIT_FAILED_ITEMS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4
EXIT_SERVER = 5

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 300.0
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::", ""}  # noqa: S104 - names, not binds


class CLIError(click.ClickException):
    """A failure with its exit code; click prints `Error: ...` on stderr."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


def parse_url(raw: str, origin: str) -> str:
    """An absolute http(s) URL with a host, without trailing slash; else a usage error."""
    text = raw.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise click.BadParameter(
            f"{raw!r} is not a server URL; expected http(s)://HOST[:PORT], e.g. {DEFAULT_URL}",
            param_hint=origin,
        )
    return text.rstrip("/")


def _url_option_callback(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    return None if value is None else parse_url(value, "--url")


def _timeout_option_callback(
    ctx: click.Context, param: click.Parameter, value: float | None
) -> float | None:
    if value is not None and value < 0:
        raise click.BadParameter("must be >= 0 (0 waits without limit)", param_hint="--timeout")
    return value


def connection_options(f: Any) -> Any:
    """`--url` / `--token` / `--timeout` for every client command, passed on as `conn`."""

    @functools.wraps(f)
    def with_conn(
        *args: Any, url: str | None, token: str | None, timeout: float | None, **kwargs: Any
    ) -> Any:
        return f(*args, conn=ClientArgs(url, token, timeout), **kwargs)

    with_conn = click.option(
        "--timeout",
        type=float,
        default=None,
        callback=_timeout_option_callback,
        help=f"Seconds to wait for each server reply (default MORGAN_CLIENT_TIMEOUT or "
        f"{DEFAULT_TIMEOUT_S:.0f}; 0 = no limit).",
    )(with_conn)
    with_conn = click.option(
        "--token", envvar="MORGAN_TOKEN", help="API token (default: MORGAN_HOME/token)."
    )(with_conn)
    return click.option(
        "--url",
        callback=_url_option_callback,
        help="Server URL (default: MORGAN_URL, then [server] host/port from the settings).",
    )(with_conn)


@dataclass(frozen=True, slots=True)
class ClientArgs:
    """What the user passed on the command line; resolved by `MorganClient`."""

    url: str | None
    token: str | None
    timeout: float | None

    def client(self) -> MorganClient:
        return MorganClient(self.url, self.token, timeout=self.timeout)


def same_server(a: str, b: str) -> bool:
    """Scheme, host (loopback spellings are one host), port and path prefix all match."""

    def key(url: str) -> tuple[str, str, int, str]:
        p = urllib.parse.urlsplit(url)
        host = (p.hostname or "").lower()
        host = "loopback" if host in _LOOPBACK or host.startswith("127.") else host
        return p.scheme, host, p.port or (443 if p.scheme == "https" else 80), p.path.rstrip("/")

    return key(a) == key(b)


@dataclass(frozen=True, slots=True)
class Connection:
    url: str
    url_origin: str
    """`--url`, `MORGAN_URL` or `settings` (MORGAN_HOST/MORGAN_PORT, morgan.toml, defaults)."""
    token: str | None
    token_origin: str
    timeout: float | None
    """Seconds per read; None waits without limit."""


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from exc


def resolve_connection(
    url: str | None = None, token: str | None = None, timeout: float | None = None
) -> Connection:
    """Where to connect and with which token; refuses to leak the local token to another server."""
    settings = _settings()
    if url:
        target, origin = parse_url(url, "--url"), "--url"
    elif os.environ.get("MORGAN_URL", "").strip():
        target, origin = parse_url(os.environ["MORGAN_URL"], "MORGAN_URL"), "MORGAN_URL"
    else:
        target, origin = settings.server_url, "settings"
    secret, token_origin = _token(token, settings)
    if token_origin == "file" and origin != "--url":  # noqa: S105 - an origin, not a secret
        issuer = read_token_issuer(settings) or settings.server_url
        if not same_server(issuer, target):
            raise CLIError(
                f"refusing to send the token from {settings.token_file} to {target} ({origin}): "
                f"it was issued by the Morgan server at {issuer}. Pass --url {target} to send it "
                "there anyway, or give that server's own token with --token / MORGAN_TOKEN.",
                EXIT_AUTH,
            )
    return Connection(target, origin, secret, token_origin, _timeout(timeout))


def _token(token: str | None, settings: Settings) -> tuple[str | None, str]:
    if token:
        return token, "--token"
    env = os.environ.get("MORGAN_TOKEN", "").strip()
    if env:
        return env, "MORGAN_TOKEN"
    if settings.token_file.is_file():
        return settings.token_file.read_text().strip() or None, "file"
    return None, "none"


def read_token_issuer(settings: Settings) -> str | None:
    """The URL `morgan serve` recorded next to the token file; None for a pre-binding file."""
    path = settings.token_url_file
    if not path.is_file():
        return None
    text = path.read_text().strip()
    return text or None


def _timeout(value: float | None) -> float | None:
    if value is None:
        raw = os.environ.get("MORGAN_CLIENT_TIMEOUT", "").strip()
        try:
            value = float(raw) if raw else DEFAULT_TIMEOUT_S
        except ValueError:
            raise CLIError(
                f"MORGAN_CLIENT_TIMEOUT={raw!r} is not a number of seconds", EXIT_USAGE
            ) from None
        if value < 0:
            raise CLIError("MORGAN_CLIENT_TIMEOUT must be >= 0 (0 = no limit)", EXIT_USAGE)
    return None if value == 0 else value


def timeout_message(url: str, timeout: float | None) -> str:
    waited = f"within {timeout:g} s " if timeout else ""
    return (
        f"no reply from the Morgan server at {url} {waited}(it may still be working); wait longer "
        "with --timeout SECONDS or MORGAN_CLIENT_TIMEOUT (0 = no limit)"
    )


def resolve_token(token: str | None) -> str | None:
    """The token alone, without the server binding check (kept for older callers)."""
    return _token(token, _settings())[0]


class MorganClient:
    def __init__(self, url: str | None, token: str | None, *, timeout: float | None = None) -> None:
        self.connection = resolve_connection(url, token, timeout)
        self.url = self.connection.url
        self.token = self.connection.token
        self.timeout = self.connection.timeout
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(
            base_url=self.url, headers=headers, timeout=httpx.Timeout(self.timeout, connect=5.0)
        )

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, retry_busy: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One call; with `retry_busy`, a 503/429 + Retry-After (server at capacity, rate
        limit) is waited out for as long as `timeout` allows instead of failing the batch."""
        started = time.monotonic()
        while True:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                failure = classify(exc)
                if failure is HttpFailure.UNREACHABLE:
                    raise CLIError(
                        f"cannot reach the Morgan server at {self.url} ({exc}); start it with "
                        "`morgan serve`",
                        EXIT_UNREACHABLE,
                    ) from exc
                if failure.timed_out:
                    raise CLIError(
                        timeout_message(self.url, self.timeout), EXIT_UNREACHABLE
                    ) from exc
                raise
            wait = _retry_after(response) if retry_busy else None
            if wait is None or (
                self.timeout is not None and time.monotonic() - started + wait > self.timeout
            ):
                break
            time.sleep(wait)  # the server said when to come back; nothing to await across HTTP
        check(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def stream_events(self, path: str, body: dict[str, Any]) -> Iterator[StreamEvent]:
        """POSTs `body` and yields the typed NDJSON events of the chat stream as they arrive."""
        try:
            with self.http.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    check(response)
                for line in response.iter_lines():
                    if line.strip():
                        yield parse_stream_line(line)
        except httpx.HTTPError as exc:
            failure = classify(exc)
            if failure is HttpFailure.UNREACHABLE:
                raise CLIError(
                    f"cannot reach the Morgan server at {self.url}; start it with `morgan serve`",
                    EXIT_UNREACHABLE,
                ) from exc
            if failure.timed_out:
                raise CLIError(timeout_message(self.url, self.timeout), EXIT_UNREACHABLE) from exc
            if failure is HttpFailure.PROTOCOL:
                raise CLIError(f"the server closed the stream early: {exc}", EXIT_SERVER) from exc
            raise


def parse_stream_line(line: str | bytes) -> StreamEvent:
    """One NDJSON line of the chat stream, typed; a line that is no event is a server error."""
    try:
        return decode_stream_event(line)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        raise CLIError(f"the server sent an unreadable stream event: {exc}", EXIT_SERVER) from exc


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait before retrying a 503 (at capacity) or 429 (rate limited), else None."""
    failure = classify(response.status_code)
    if failure is None or not failure.busy:
        return None
    try:
        return min(max(float(response.headers.get("retry-after", "")), 0.1), 30.0)
    except ValueError:
        return None


def check(response: httpx.Response) -> None:
    failure = classify(response.status_code)
    if failure is None:
        return
    detail = _detail(response)
    if failure is HttpFailure.AUTH:
        hint = "" if detail.endswith(".") else "."
        raise CLIError(
            f"authentication failed: {detail}{hint} Pass --token, set MORGAN_TOKEN, or run the "
            "server once in embedded mode to create MORGAN_HOME/token.",
            EXIT_AUTH,
        )
    if failure is HttpFailure.REJECTED:
        raise CLIError(detail, EXIT_USAGE)
    raise CLIError(f"server error {response.status_code}: {detail}", EXIT_SERVER)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)
    return str(body)
