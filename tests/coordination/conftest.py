"""A real redis-server for the coordination tests.

Each test that needs Redis gets its own ``redis-server`` on a free loopback port (the
binary comes from Debian's ``redis-server`` package; ``.ci/run`` installs it). Without the
binary, a server at ``CODEGEN_GRAPH_TEST_REDIS`` (default ``redis://127.0.0.1:56379/0``, what
``tools/ci_redis.sh`` starts) is used with a fresh key prefix; with neither, the tests skip.
Tests that stop and restart Redis need the binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from codegen_graph.local import free_loopback_port

SHARED_URL = os.environ.get("CODEGEN_GRAPH_TEST_REDIS", "redis://127.0.0.1:56379/0")


def _answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@dataclass
class RedisServer:
    """A redis-server child process that a test may stop and start again (same port)."""

    workdir: Path
    port: int = field(default_factory=free_loopback_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not _answers(self.url):  # a real process binding a real socket
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (skips without the binary)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A reachable Redis (own server, else the CI one) and a fresh key prefix per test."""
    if shutil.which("redis-server") is not None:
        server = RedisServer(tmp_path).start()
        yield server.url
        server.stop()
        return
    if not _answers(SHARED_URL):
        pytest.skip(f"no redis-server binary and no Redis at {SHARED_URL}")
    yield SHARED_URL


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"
