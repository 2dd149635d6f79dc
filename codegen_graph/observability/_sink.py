"""A LangSmith-compatible HTTP sink on 127.0.0.1 that captures traces, for tests and demos.

Point LangSmith at it (``LANGSMITH_ENDPOINT=sink.url`` or
``enable_tracing(endpoint=sink.url, api_key="any")``) and every run the LangSmith client
sends is captured: ``sink.runs`` (merged by run id), ``sink.raw_payloads`` (request bodies,
decompressed, for canary searches), ``sink.tree()`` and ``sink.render_tree()``.

It speaks the parts of the LangSmith API the tracing client uses (as of langsmith 0.3-0.15):

* ``GET /info``: advertises ``batch_ingest_config.use_multipart_endpoint`` and
  ``instance_flags.zstd_compression_enabled``; the client reads both before its first send.
* ``POST /runs`` and ``PATCH /runs/{id}``: one run as JSON (``auto_batch_tracing=False``).
* ``POST /runs/batch``: ``{"post": [...], "patch": [...]}`` (multipart disabled).
* ``POST /runs/multipart``: ``multipart/form-data`` whose parts are named ``post.<id>``,
  ``patch.<id>``, ``post.<id>.inputs`` / ``.outputs`` / ``.events`` / ``.extra`` /
  ``.error`` / ``.serialized``, ``attachment.<id>.<name>`` and ``feedback.<id>``; the
  body is ``Content-Encoding: zstd`` compressed when compression is advertised.

Only the standard library is used (plus ``zstandard``, which langsmith installs, to read
compressed bodies).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["LangSmithSink", "SinkRequest", "TraceNode"]

_RUN_FIELDS = ("inputs", "outputs", "events", "extra", "error", "serialized")


def _zstd_available() -> bool:
    try:
        import zstandard  # noqa: F401
    except ImportError:  # pragma: no cover - langsmith normally installs it
        return False
    return True


@dataclass(frozen=True)
class SinkRequest:
    """One request the sink received (body decompressed; headers without credentials)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class TraceNode:
    """A run and its children, ordered by ``dotted_order`` (start time, then id)."""

    run: dict[str, Any]
    children: list[TraceNode] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The run's name."""
        return str(self.run.get("name", "?"))

    @property
    def run_type(self) -> str:
        """The run's type (``chain``, ``tool``, ``llm``...)."""
        return str(self.run.get("run_type", "?"))

    @property
    def metadata(self) -> dict[str, Any]:
        """The run's metadata (``extra.metadata``)."""
        extra = self.run.get("extra") or {}
        meta = extra.get("metadata") if isinstance(extra, dict) else None
        return meta if isinstance(meta, dict) else {}

    def walk(self) -> Iterator[TraceNode]:
        """This node and all its descendants, depth first, in order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, name: str) -> list[TraceNode]:
        """Every node in this subtree with that name, in order."""
        return [node for node in self.walk() if node.name == name]


def _sort_key(run: dict[str, Any]) -> tuple[str, str]:
    return (str(run.get("dotted_order") or ""), str(run.get("start_time") or ""))


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if value is None and key in into:
            continue
        if key == "extra" and isinstance(value, dict) and isinstance(into.get("extra"), dict):
            extra = into["extra"]
            for k, v in value.items():
                if isinstance(v, dict) and isinstance(extra.get(k), dict):
                    extra[k] = {**extra[k], **v}
                else:
                    extra[k] = v
        else:
            into[key] = value


def _split_multipart(body: bytes, boundary: str) -> Iterator[tuple[dict[str, str], bytes]]:
    delimiter = b"--" + boundary.encode("latin-1")
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, val = line.partition(":")
            headers[name.strip().lower()] = val.strip()
        yield headers, data


_NAME_RE = re.compile(r'name="([^"]*)"')


class _Handler(BaseHTTPRequestHandler):
    server: _SinkServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``sink.requests`` instead."""

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "zstd":
            import zstandard

            body = zstandard.ZstdDecompressor().stream_reader(body).read()
        return body

    def _reply(self, status: int, payload: Any, body: bytes) -> None:
        # Record first: once the client has its answer, the capture is complete.
        self.server.sink._record(self.command, self.path, dict(self.headers.items()), body, status)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.split("?")[0].rstrip("/").endswith("/info"):
            self._reply(200, self.server.sink.info(), b"")
        else:
            self._reply(404, {"detail": "not found"}, b"")

    def do_POST(self) -> None:
        body = self._read_body()
        path = self.path.split("?")[0].rstrip("/")
        sink = self.server.sink
        try:
            if path.endswith("/runs/multipart"):
                sink._ingest_multipart(self.headers.get("Content-Type", ""), body)
            elif path.endswith("/runs/batch"):
                payload = json.loads(body or b"{}")
                for run in payload.get("post") or []:
                    sink._ingest(run)
                for run in payload.get("patch") or []:
                    sink._ingest(run)
            elif path.endswith("/runs"):
                sink._ingest(json.loads(body))
            else:
                self._reply(404, {"detail": "not found"}, body)
                return
        except (ValueError, KeyError) as exc:
            self._reply(422, {"detail": f"sink could not parse the payload: {exc}"}, body)
            return
        self._reply(202 if "multipart" in path or "batch" in path else 200, {}, body)

    def do_PATCH(self) -> None:
        body = self._read_body()
        match = re.search(r"/runs/([0-9a-fA-F-]{32,36})$", self.path.split("?")[0])
        if not match:
            self._reply(404, {"detail": "not found"}, body)
            return
        self.server.sink._ingest({**json.loads(body), "id": match.group(1)})
        self._reply(200, {}, body)


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sink: LangSmithSink) -> None:
        self.sink = sink
        super().__init__(("127.0.0.1", 0), _Handler)


class LangSmithSink:
    """Capture what a LangSmith client sends, on a local HTTP server.

    Args:
        multipart: Advertise the multipart ingestion endpoint (LangSmith's default); when
            ``False`` the client falls back to ``POST /runs/batch``.
        compression: Advertise zstd compression; the default is "if ``zstandard`` is
            importable", which is what a current LangSmith server does.

    Examples:
        >>> with LangSmithSink() as sink:  # doctest: +SKIP
        ...     client = enable_tracing(endpoint=sink.url, api_key="fake")
        ...     run_my_graph()
        ...     client.flush()
        ...     print(sink.render_tree())
    """

    def __init__(self, *, multipart: bool = True, compression: bool | None = None) -> None:
        self.multipart = multipart
        self.compression = _zstd_available() if compression is None else compression
        self._lock = threading.Condition()
        self._runs: dict[str, dict[str, Any]] = {}
        self._requests: list[SinkRequest] = []
        self._feedback: list[dict[str, Any]] = []
        self._server: _SinkServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> LangSmithSink:
        """Start serving on an ephemeral port of 127.0.0.1 (idempotent)."""
        if self._server is None:
            self._server = _SinkServer(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="langsmith-sink",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; captured data stays readable."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join()
            self._server = None
            self._thread = None

    def __enter__(self) -> LangSmithSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to use as ``LANGSMITH_ENDPOINT``."""
        if self._server is None:
            raise RuntimeError("the sink is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def info(self) -> dict[str, Any]:
        """The ``GET /info`` document."""
        return {
            "version": "0.0.0-codegen-graph-sink",
            "batch_ingest_config": {
                "use_multipart_endpoint": self.multipart,
                "size_limit": 100,
                "size_limit_bytes": 20 * 1024 * 1024,
                "scale_up_qsize_trigger": 1000,
                "scale_up_nthreads_limit": 16,
                "scale_down_nempty_trigger": 4,
            },
            "instance_flags": {"zstd_compression_enabled": self.compression},
        }

    # -- ingestion -----------------------------------------------------------------------

    def _record(
        self, method: str, path: str, headers: dict[str, str], body: bytes, status: int
    ) -> None:
        safe = {
            k: v
            for k, v in headers.items()
            if k.lower() not in {"x-api-key", "authorization", "cookie", "x-service-key"}
        }
        with self._lock:
            self._requests.append(SinkRequest(method, path, safe, body, status))
            self._lock.notify_all()

    def _ingest(self, run: dict[str, Any]) -> None:
        run_id = str(run["id"])
        with self._lock:
            current = self._runs.setdefault(run_id, {"id": run_id})
            _merge(current, run)
            self._lock.notify_all()

    def _ingest_multipart(self, content_type: str, body: bytes) -> None:
        match = re.search(r"boundary=\"?([^\";]+)\"?", content_type)
        if not match:
            raise ValueError("multipart request without a boundary")
        pieces: dict[str, dict[str, Any]] = {}
        for headers, data in _split_multipart(body, match.group(1)):
            name_match = _NAME_RE.search(headers.get("content-disposition", ""))
            if not name_match:
                continue
            kind, _, rest = name_match.group(1).partition(".")
            if kind == "attachment":
                run_id, _, attachment = rest.partition(".")
                run = pieces.setdefault(run_id, {"id": run_id})
                run.setdefault("attachments", {})[attachment] = data
            elif kind == "feedback":
                with self._lock:
                    self._feedback.append(json.loads(data))
            elif kind in ("post", "patch"):
                run_id, _, part = rest.partition(".")
                run = pieces.setdefault(run_id, {"id": run_id})
                if part in _RUN_FIELDS:
                    run[part] = json.loads(data)
                elif not part:
                    run.update(json.loads(data))
        for run in pieces.values():
            self._ingest(run)

    # -- reading -------------------------------------------------------------------------

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        """Every captured run, posts and patches merged, by run id (a snapshot)."""
        with self._lock:
            return {k: dict(v) for k, v in self._runs.items()}

    @property
    def requests(self) -> list[SinkRequest]:
        """Every request received, in order (credentials headers dropped)."""
        with self._lock:
            return list(self._requests)

    @property
    def raw_payloads(self) -> list[bytes]:
        """Every request body received (decompressed), for canary searches."""
        with self._lock:
            return [r.body for r in self._requests if r.body]

    @property
    def feedback(self) -> list[dict[str, Any]]:
        """Feedback objects sent through the multipart endpoint."""
        with self._lock:
            return list(self._feedback)

    def contains(self, needle: str | bytes) -> bool:
        """Whether ``needle`` occurs in any captured body."""
        raw = needle.encode() if isinstance(needle, str) else needle
        return any(raw in body for body in self.raw_payloads)

    def wait_for(self, predicate: Callable[[LangSmithSink], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate(sink)`` holds or ``timeout`` seconds pass; return it.

        Wakes on every captured request, so it never sleeps longer than needed.
        """
        with self._lock:
            return self._lock.wait_for(lambda: predicate(self), timeout)

    def tree(self) -> list[TraceNode]:
        """The captured runs as trees: roots (no known parent) with ordered children."""
        runs = self.runs
        nodes = {run_id: TraceNode(run) for run_id, run in runs.items()}
        roots: list[TraceNode] = []
        for node in sorted(nodes.values(), key=lambda n: _sort_key(n.run)):
            parent_id = node.run.get("parent_run_id")
            parent = nodes.get(str(parent_id)) if parent_id else None
            (parent.children if parent is not None else roots).append(node)
        return roots

    def find(self, name: str) -> list[TraceNode]:
        """Every captured run with that name, in trace order."""
        return [node for root in self.tree() for node in root.find(name)]

    def render_tree(self, *, metadata_keys: Sequence[str] = ("agent_run_id", "status")) -> str:
        """Render the captured runs as a text tree, one run per line.

        Each line shows the run name, its type and the listed metadata keys when present::

            feature [chain]
            └── code_agent [chain]
                └── codegen.wait [chain] agent_run_id=7 status=COMPLETE
                    ├── read_file [tool]
                    └── final_answer [chain]
        """
        lines: list[str] = []

        def label(node: TraceNode) -> str:
            meta = node.metadata
            extras = [f"{k}={meta[k]}" for k in metadata_keys if meta.get(k) is not None]
            error = " !error" if node.run.get("error") else ""
            return " ".join([node.name, f"[{node.run_type}]", *extras]) + error

        def walk(node: TraceNode, prefix: str, last: bool, root: bool) -> None:
            if root:
                lines.append(label(node))
                child_prefix = ""
            else:
                lines.append(f"{prefix}{'└── ' if last else '├── '}{label(node)}")
                child_prefix = prefix + ("    " if last else "│   ")
            for i, child in enumerate(node.children):
                walk(child, child_prefix, i == len(node.children) - 1, False)

        for root in self.tree():
            walk(root, "", True, True)
        return "\n".join(lines)
