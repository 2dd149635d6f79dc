"""``LocalServer``: ``codegen-graph serve`` in a child process, for tests, benchmarks and demos.

A real server on a real loopback socket, in its own process, so that a client process can
be killed (or measured) without taking the backend with it.

Examples:
    >>> with LocalServer(time_scale=60) as server:  # doctest: +SKIP
    ...     client = CodegenClient(server.token, server.org_id, base_url=server.base_url)
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from ._server import PARENT_PID_ENV_VAR

__all__ = ["LocalServer", "free_loopback_port"]


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for a server the caller starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """Start ``codegen-graph serve`` on 127.0.0.1 in a subprocess; stop it on exit.

    Args:
        token: the token the server accepts (default: a fresh random one).
        org_id: the organisation id (default: 4242).
        time_scale: simulated seconds per real second.
        db: a SQLite file, so runs survive a restart of the server.
        scenario: a scenario file or bundled scenario name.
        faults: fault injection settings (the ``--faults`` JSON document).
        rate_limits: enforce the documented rate limits.
        startup_timeout: real seconds to wait for the server to answer.

    Attributes:
        base_url, token, org_id: what a client needs (the token never shows in ``repr``).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        org_id: int = 4242,
        time_scale: float = 1.0,
        db: str | Path | None = None,
        scenario: str | None = None,
        faults: dict[str, Any] | None = None,
        rate_limits: bool = True,
        startup_timeout: float = 20.0,
    ) -> None:
        self.token = token or "cg-local-" + secrets.token_urlsafe(18)
        self.org_id = org_id
        self.port = free_loopback_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._args = [
            sys.executable,
            "-m",
            "codegen_graph",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--org-id",
            str(org_id),
            "--time-scale",
            f"{time_scale:g}",
        ]  # fmt: skip  (the token goes through the environment, not the command line)
        if db is not None:
            self._args += ["--db", str(db)]
        if scenario is not None:
            self._args += ["--scenario", scenario]
        if faults is not None:
            self._args += ["--faults", json.dumps(faults)]
        if not rate_limits:
            self._args.append("--no-rate-limits")
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"LocalServer(base_url={self.base_url!r}, org_id={self.org_id})"

    def start(self) -> LocalServer:
        """Start the server and wait until it answers (raises ``RuntimeError`` if it dies)."""
        # The child stops by itself when this process dies without calling stop() (SIGKILL).
        env = {
            **os.environ,
            "CODEGEN_LOCAL_TOKEN": self.token,
            PARENT_PID_ENV_VAR: str(os.getpid()),
        }
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self._args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + self._startup_timeout
        while True:
            try:
                httpx.get(f"{self.base_url}/_local/stats", timeout=1.0)
                return self
            except httpx.TransportError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                    self.stop()
                    raise RuntimeError(f"codegen-graph serve did not start: {err}") from None
                time.sleep(0.05)  # a real process binding a real socket

    def stats(self) -> dict[str, Any]:
        """The server's ``/_local/stats`` document."""
        response = httpx.get(f"{self.base_url}/_local/stats", timeout=5.0)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def env(self) -> dict[str, str]:
        """Environment variables that point codegen-graph (CLI or client) at this server."""
        return {
            "CODEGEN_API_TOKEN": self.token,
            "CODEGEN_ORG_ID": str(self.org_id),
            "CODEGEN_API_BASE_URL": self.base_url,
        }

    def stop(self) -> None:
        """Terminate the server (and wait for it)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()

    close = stop  # the same name LocalCodegen uses

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
