"""The HTTP client the CLI and TUI share, with errors mapped to documented exit codes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx

from morgan.settings import default_home

EXIT_OK = 0
EXIT_FAILED_ITEMS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4
EXIT_SERVER = 5

DEFAULT_URL = "http://127.0.0.1:8000"


class CLIError(click.ClickException):
    """A failure with its exit code; click prints `Error: ...` on stderr."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def connection_options(f: Any) -> Any:
    """`--url` / `--token` (or MORGAN_URL / MORGAN_TOKEN) for every client command."""
    f = click.option("--token", envvar="MORGAN_TOKEN", help="API token (default: MORGAN_HOME/token).")(f)
    f = click.option("--url", envvar="MORGAN_URL", help="Server URL (default http://127.0.0.1:8000).")(f)
    return f


def resolve_token(token: str | None) -> str | None:
    if token:
        return token
    env = os.environ.get("MORGAN_TOKEN")
    if env:
        return env
    home = Path(os.environ.get("MORGAN_HOME") or default_home()).expanduser()
    token_file = home / "token"
    if token_file.is_file():
        return token_file.read_text().strip() or None
    return None


class MorganClient:
    def __init__(self, url: str | None, token: str | None, *, timeout: float = 300.0) -> None:
        self.url = (url or os.environ.get("MORGAN_URL") or DEFAULT_URL).rstrip("/")
        self.token = resolve_token(token)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=httpx.Timeout(timeout, connect=5.0))

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise CLIError(
                f"cannot reach the Morgan server at {self.url} ({exc}); start it with `morgan serve`",
                EXIT_UNREACHABLE,
            ) from exc
        except httpx.TimeoutException as exc:
            raise CLIError(f"the Morgan server at {self.url} timed out", EXIT_UNREACHABLE) from exc
        check(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def stream_lines(self, method: str, path: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        try:
            with self.http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    check(response)
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.ConnectError as exc:
            raise CLIError(
                f"cannot reach the Morgan server at {self.url}; start it with `morgan serve`",
                EXIT_UNREACHABLE,
            ) from exc
        except httpx.RemoteProtocolError as exc:
            raise CLIError(f"the server closed the stream early: {exc}", EXIT_SERVER) from exc


def check(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    detail = _detail(response)
    if response.status_code == 401:
        hint = "" if detail.endswith(".") else "."
        raise CLIError(
            f"authentication failed: {detail}{hint} Pass --token, set MORGAN_TOKEN, or run the "
            "server once in embedded mode to create MORGAN_HOME/token.",
            EXIT_AUTH,
        )
    if response.status_code in (400, 404, 409, 413, 422):
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
