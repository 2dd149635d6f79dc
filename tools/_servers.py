"""The real server processes the benchmarks and the tests start: ``langgraph dev`` and a
throwaway ``redis-server``, both on loopback, offline, and stopped as a whole afterwards.

``tests/studio/_dev.py`` wraps :func:`langgraph_dev` for pytest (skips, failures, the log
check); ``tools/bench_agent_server.py`` and ``tools/bench_coordination.py`` use both.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx

from codegen_graph.local import free_loopback_port

ROOT = Path(__file__).resolve().parents[1]

# Everything langgraph-cli / langgraph_api could reach out to, switched off.
OFFLINE_ENV = {
    "LANGGRAPH_NO_VERSION_CHECK": "true",  # langgraph_api.cli: PyPI version check
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",  # langgraph_cli.analytics: usage ping
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING_V2": "false",
    "CODEGEN_GRAPH_TIME_SCALE": "600",  # simulated minutes pass in a tenth of a second
}
# metadata_loop (langgraph_api.metadata) only phones home with a license or control-plane
# key; a Codegen token would make the factories use the real API, a Redis URL coordinate
# with whatever it names (a caller's ``env`` sets them again).
UNSET_ENV = (
    "LANGGRAPH_CLOUD_LICENSE_KEY",
    "LANGSMITH_CONTROL_PLANE_API_KEY",
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "LANGSMITH_ENDPOINT",
    "CODEGEN_API_TOKEN",
    "CODEGEN_TOKEN",
    "CODEGEN_ORG_ID",
    "CODEGEN_API_BASE_URL",
    "CODEGEN_REDIS_URL",
    "CODEGEN_GRAPH_SUPERVISOR_MODEL",  # the supervisor must fail clearly without a model
)


def langgraph_cli() -> str | None:
    """The ``langgraph`` command beside this interpreter, else on ``PATH``."""
    exe = Path(sys.executable).with_name("langgraph")
    return str(exe) if exe.exists() else shutil.which("langgraph")


def log_tail(workdir: Path, chars: int = 4000) -> str:
    return (workdir / "langgraph-dev.log").read_text(errors="replace")[-chars:]


class Dev(NamedTuple):
    url: str
    pid: int  # also its process group


@contextmanager
def langgraph_dev(
    workdir: Path,
    env: Mapping[str, str] | None = None,
    *,
    jobs: int | None = None,
    startup_timeout: float = 40.0,
) -> Iterator[Dev]:
    """``langgraph dev`` serving this checkout's ``langgraph.json`` from ``workdir`` (as in
    a fresh clone: the server keeps its state in ``./.langgraph_api``, its log in
    ``langgraph-dev.log``), in its own process group; yields its URL and pid. ``env`` adds
    to the offline environment; ``jobs`` is ``--n-jobs-per-worker``.

    Raises:
        RuntimeError: no ``langgraph`` command, or a server that exited or was not healthy
            within ``startup_timeout`` real seconds (the log's tail in the message).
    """
    cli = langgraph_cli()
    if cli is None:
        raise RuntimeError("langgraph-cli is not installed: pip install 'langgraph-cli[inmem]'")
    port = free_loopback_port()
    environ = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
    environ.update(OFFLINE_ENV)
    environ.update(env or {})
    cmd = [cli, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--config", str(ROOT / "langgraph.json")]
    if jobs is not None:
        cmd += ["--n-jobs-per-worker", str(jobs)]
    with (workdir / "langgraph-dev.log").open("wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one below
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"langgraph dev exited with {proc.returncode}:\n{log_tail(workdir)}"
                    )
                try:
                    if httpx.get(f"{url}/ok", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"langgraph dev not healthy in {startup_timeout:g}s:\n{log_tail(workdir)}"
                    )
                time.sleep(0.2)  # real process start-up; nothing virtual to wait on
            yield Dev(url, proc.pid)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A throwaway ``redis-server`` on a free loopback port (no persistence); yields its
    URL once it answers.

    Raises:
        RuntimeError: no ``redis-server`` on ``PATH``, or one that did not start.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    import redis

    port = free_loopback_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if redis.Redis.from_url(url, socket_connect_timeout=0.5).ping():
                    break
            except redis.RedisError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)  # a real process binding a real socket
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
