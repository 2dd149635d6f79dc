"""``langgraph dev`` for the Studio/server tests: offline, on loopback, in a fresh directory.

The in-memory LangGraph server (langgraph-cli[inmem]) is started on 127.0.0.1 in its own
process group, with every outbound call it knows of turned off (version check, CLI
analytics, LangSmith tracing, license metadata), and killed as one group afterwards.
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
import hypothesis  # noqa: F401  (see below)
import pytest

from codegen_graph.local import free_loopback_port

# hypothesis is imported up front on purpose: run alone, a test file that starts the server
# otherwise makes pytest's assertion rewriter parse hypothesis at session end, where CPython
# 3.11.7 raises "SystemError: AST constructor recursion depth mismatch" (the tests passed).

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 40.0  # real seconds: a cold start imports langgraph_api (~3-8 s here)

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
# key; the Codegen token would make the factory use the real API.
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
    "CODEGEN_GRAPH_SUPERVISOR_MODEL",  # the supervisor must fail clearly without a model
)


def _langgraph_cli() -> str:
    exe = Path(sys.executable).with_name("langgraph")
    if exe.exists():
        return str(exe)
    found = shutil.which("langgraph")
    if found is None:
        pytest.skip("langgraph-cli is not installed: pip install 'langgraph-cli[inmem]'")
    return found


class Dev(NamedTuple):
    url: str
    pid: int  # also its process group


@contextmanager
def langgraph_dev(workdir: Path, env: Mapping[str, str] | None = None) -> Iterator[Dev]:
    """``langgraph dev`` serving this checkout's ``langgraph.json`` from ``workdir`` (as in
    a fresh clone: the server keeps its state in ``./.langgraph_api``); yields its URL and
    pid. ``env`` adds to the offline environment. On exit the log is checked (see below)."""
    pytest.importorskip("langgraph_api", reason="needs langgraph-cli[inmem]")
    pytest.importorskip("langgraph_sdk")
    port = free_loopback_port()
    environ = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
    environ.update(OFFLINE_ENV)
    environ.update(env or {})
    log = (workdir / "langgraph-dev.log").open("wb")
    cmd = [_langgraph_cli(), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--config", str(ROOT / "langgraph.json"), "--port", str(port)],
        cwd=workdir,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, killed as one below
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited with {proc.returncode}:\n{tail(workdir)}")
            try:
                if httpx.get(f"{url}/ok", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev not healthy in {STARTUP_TIMEOUT}s:\n{tail(workdir)}")
            time.sleep(0.2)  # real process start-up; nothing virtual to wait on
        yield Dev(url, proc.pid)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
    check_log(workdir)


def tail(workdir: Path, chars: int = 4000) -> str:
    return (workdir / "langgraph-dev.log").read_text(errors="replace")[-chars:]


def check_log(workdir: Path) -> None:
    text = (workdir / "langgraph-dev.log").read_text(errors="replace")
    # Blocking calls on the server's event loop are errors under `langgraph dev`.
    assert "BlockingError" not in text, tail(workdir)
    # Opening the supervisor without a model, running it, cancelling a run: no traceback.
    assert "Traceback" not in text, tail(workdir)
    # Quiet by default: every outbound call is off here, so an httpx request line could
    # only be the Codegen client's (one per poll: a hundred for two runs).
    assert "HTTP Request:" not in text, tail(workdir)
