"""codegen_graph.local: what its objects show (its __all__: tests/test_public_surface.py)."""

from __future__ import annotations

import codegen_graph.local as local


def test_repr_never_shows_the_token() -> None:
    from codegen_graph.clock import ManualClock

    with local.LocalCodegen("secret-token-123", 5, clock=ManualClock()) as b:
        assert "secret-token-123" not in repr(b)
        assert "secret-token-123" not in repr(b.store)


def test_the_sync_transport_runs_on_one_loop_thread_that_close_joins() -> None:
    """One portal thread per transport (and the app's worker threads on its loop): after
    close() none of them is left."""
    import threading

    import httpx

    from codegen_graph.clock import ManualClock

    with local.LocalCodegen("t", 1, clock=ManualClock()) as b:
        before = set(threading.enumerate())
        http = httpx.Client(transport=b.transport(), base_url=b.base_url)
        assert [http.get("/_local/stats").status_code for _ in range(3)] == [200] * 3
        ours = ("codegen-graph-local", "AnyIO worker thread")
        started = [t for t in threading.enumerate() if t not in before and t.name in ours]
        [loop_thread] = [t for t in started if t.name == "codegen-graph-local"]
        http.close()
        assert not loop_thread.is_alive()  # close() joined it
        for thread in started:  # the loop's worker threads end with it, soon after
            thread.join(timeout=30)
        assert [t.name for t in started if t.is_alive()] == []


_NEVER_CLOSED = """
from codegen_graph.local import LocalCodegen

client = LocalCodegen().client()  # neither closed nor collected before the exit
run = client.agent_runs.start("Add a /health endpoint")
print(run.id, flush=True)
"""


def test_a_script_that_never_closes_its_embedded_client_still_exits() -> None:
    """The sync transport's portal is stopped at exit (a transport never closed used to
    block the interpreter's exit for ever: its loop's daemon thread no longer ran when the
    portal's finalizer waited for it)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _NEVER_CLOSED], capture_output=True, text=True, timeout=120
    )  # a hang is the failure: TimeoutExpired
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().isdigit()
