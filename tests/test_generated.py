"""The sync modules are what ``tools/unasync.py`` makes of their async sources, to the byte.

A hand edit of a generated ``_sync`` module, or an async source changed without running
the script, fails here (``docs/contributing.md``).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "unasync.py"


def _unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_generated_module_is_fresh() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_check_names_a_stale_module_and_one_without_a_source() -> None:
    unasync = _unasync()
    expected = unasync.outputs()
    client = ROOT / "codegen_graph" / "_sync" / "client.py"
    assert expected[client].startswith(unasync.header("codegen_graph/_async/client.py"))
    edited = {**expected, client: expected[client] + "# a hand edit\n"}
    assert unasync.stale(edited) == ["codegen_graph/_sync/client.py is stale or missing"]
    orphan = ROOT / "codegen_graph" / "_sync" / "runs.py"
    without = {path: text for path, text in expected.items() if path != orphan}
    assert unasync.stale(without) == ["codegen_graph/_sync/runs.py has no async source"]


def test_the_substitutions_make_sync_code() -> None:
    source = (
        "from .._concurrency import AsyncKeyLock, async_offload\n"
        "async def create(self) -> None:\n"
        "    async with AsyncKeyLock(key):\n"
        "        await async_offload(claim.record)\n"
        "        await self._api.clock.asleep(1.0)\n"
    )
    line = _unasync()._line
    assert [line(text).rstrip("\n") for text in source.splitlines(keepends=True)] == [
        "from .._concurrency import KeyLock, offload",
        "def create(self) -> None:",
        "    with KeyLock(key):",
        "        offload(claim.record)",
        "        self._api.clock.sleep(1.0)",
    ]
