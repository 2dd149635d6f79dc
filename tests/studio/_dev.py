"""``langgraph dev`` for the Studio/server tests: offline, on loopback, in a fresh directory.

The in-memory LangGraph server (langgraph-cli[inmem]) is started by ``tools/_servers.py``
(which the benchmarks use too) on 127.0.0.1 in its own process group, with every outbound
call it knows of turned off (version check, CLI analytics, LangSmith tracing, license
metadata), and killed as one group afterwards; here a failure to start fails the test, and
the server's log is checked when it stops.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import hypothesis  # noqa: F401  (see below)
import pytest

# hypothesis is imported up front on purpose: run alone, a test file that starts the server
# otherwise makes pytest's assertion rewriter parse hypothesis at session end, where CPython
# 3.11.7 raises "SystemError: AST constructor recursion depth mismatch" (the tests passed).

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))  # the launcher the benchmarks use too

from _servers import Dev, langgraph_cli, log_tail  # noqa: E402
from _servers import langgraph_dev as _langgraph_dev  # noqa: E402

__all__ = ["Dev", "check_log", "langgraph_dev"]

STARTUP_TIMEOUT = 40.0  # real seconds: a cold start imports langgraph_api (~3-8 s here)


@contextmanager
def langgraph_dev(workdir: Path, env: Mapping[str, str] | None = None) -> Iterator[Dev]:
    """``langgraph dev`` serving this checkout's ``langgraph.json`` from ``workdir``
    (``tools/_servers.py``: offline, on loopback, its own process group); yields its URL
    and pid. ``env`` adds to the offline environment. On exit the log is checked (below)."""
    pytest.importorskip("langgraph_api", reason="needs langgraph-cli[inmem]")
    pytest.importorskip("langgraph_sdk")
    if langgraph_cli() is None:
        pytest.skip("langgraph-cli is not installed: pip install 'langgraph-cli[inmem]'")
    with ExitStack() as stack:
        try:
            dev = stack.enter_context(_langgraph_dev(workdir, env, startup_timeout=STARTUP_TIMEOUT))
        except RuntimeError as exc:  # it exited, or was not healthy in time: the log's tail
            pytest.fail(str(exc))
        yield dev
    check_log(workdir)


def check_log(workdir: Path) -> None:
    text = (workdir / "langgraph-dev.log").read_text(errors="replace")
    # Blocking calls on the server's event loop are errors under `langgraph dev`.
    assert "BlockingError" not in text, log_tail(workdir)
    # Opening the supervisor without a model, running it, cancelling a run: no traceback.
    assert "Traceback" not in text, log_tail(workdir)
    # Quiet by default: every outbound call is off here, so an httpx request line could
    # only be the Codegen client's (one per poll: a hundred for two runs).
    assert "HTTP Request:" not in text, log_tail(workdir)
