"""``codegen-graph serve``: the local backend behind uvicorn on a real socket."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._backend import LocalCodegen

__all__ = ["PARENT_PID_ENV_VAR", "parse_faults", "serve"]

#: Set by :class:`LocalServer` for its child: the server stops when that process is gone.
PARENT_PID_ENV_VAR = "CODEGEN_LOCAL_PARENT_PID"


def parse_faults(raw: str | None) -> Mapping[str, Any] | None:
    """Parse ``--faults``: inline JSON or a path to a JSON file.

    Told apart by the text itself, never by asking the file system: a value that starts with
    ``{`` is inline JSON (however long: a long one would make ``stat`` fail with
    ENAMETOOLONG), anything else is a path.

    Raises:
        ValueError: not a JSON object, or a file that cannot be read.
    """
    if raw is None:
        return None
    if raw.lstrip().startswith("{"):
        text, where = raw, "--faults"
    else:
        try:
            text = Path(raw).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(
                f"--faults: cannot read the file {raw[:200]!r} ({reason}); pass a JSON "
                "object inline ('{...}') or the path of a JSON file"
            ) from None
        where = f"--faults file {raw[:200]!r}"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("--faults must be a JSON object of route -> settings")
    return doc


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # 143 for SIGTERM, as a shell reports it


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Make SIGTERM unwind the stack instead of killing the process on the spot.

    uvicorn shuts down gracefully on SIGTERM, then restores the previous handler and raises
    the signal again; with the default handler that kills the process before
    :meth:`LocalCodegen.close` saves the simulated time, and a restart on the same ``--db``
    would resume the clock from the last write, behind what clients had already been shown.
    Signals can only be handled on the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_when_orphaned(parent_pid: int, interval: float = 0.5) -> None:
    """Stop this server (SIGTERM, so the clock is saved) once ``parent_pid`` has gone.

    A server that :class:`LocalServer` started for a test, a benchmark or ``langgraph dev``
    must not outlive its owner when the owner is SIGKILLed (no ``atexit``, no ``stop()``):
    the orphan is re-parented, which ``os.getppid()`` shows. Real seconds, a daemon thread.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            threading.Event().wait(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="codegen-graph-parent-watch", daemon=True).start()


def _listen(host: str, port: int) -> tuple[socket.socket, str]:
    """Bind ``host:port`` (``0``: any free port); return the socket and the URL to hand out.

    The URL names the port actually bound, and loopback for a wildcard host, so the links
    in the backend's answers (``web_url``, PR URLs) open in a browser on this machine.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ValueError(
            f"cannot listen on {host}:{port} ({reason}): pick another --port or --host"
        ) from None
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    shown = f"[{shown}]" if ":" in shown else shown
    return sock, f"http://{shown}:{sock.getsockname()[1]}"


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    token: str | None = None,
    org_id: int | None = None,
    time_scale: float = 1.0,
    scenario: str | None = None,
    db: str | None = None,
    faults: str | Mapping[str, Any] | None = None,
    rate_limits: bool = True,
    quota: int | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Run the local backend under uvicorn until interrupted.

    Prints the base URL and the three variables that point a client at it, then one
    ``export`` line to paste. A generated token is printed; a given one never is (the line
    reads ``"$CODEGEN_LOCAL_TOKEN"`` when it came from that variable).
    """
    import uvicorn

    sock, base_url = _listen(host, port)
    with sock:
        backend = LocalCodegen(
            token,
            org_id,
            time_scale=time_scale,
            scenario=scenario,
            faults=parse_faults(faults) if isinstance(faults, str) else faults,
            rate_limits=rate_limits,
            quota=quota,
            db=db,
            base_url=base_url,
        )
        shown_token = backend.token
        if token is not None:
            from_env = os.environ.get("CODEGEN_LOCAL_TOKEN", "").strip() == token
            shown_token = '"$CODEGEN_LOCAL_TOKEN"' if from_env else "'<the --token value>'"
        exports = [
            f"CODEGEN_API_BASE_URL={base_url}",
            f"CODEGEN_API_TOKEN={shown_token}",
            f"CODEGEN_ORG_ID={backend.org_id}",
        ]
        echo(f"codegen-graph local backend: {base_url} (time_scale={time_scale:g})")
        for line in [*exports, "export " + " ".join(exports)]:
            echo(line)
        parent = os.environ.get(PARENT_PID_ENV_VAR, "")
        try:
            with _sigterm_unwinds():  # a plain `kill` still saves the clock (close() below)
                if parent.isdigit():  # after the handler is in: an orphan's SIGTERM must unwind
                    _stop_when_orphaned(int(parent))
                config = uvicorn.Config(backend.app, log_level="warning", access_log=False)
                uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on
            pass
        finally:
            backend.close()
