"""An argument that is not valid UTF-8 is one clear error, never "this is a bug"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import Cli


def test_a_non_utf8_argument_is_a_clear_usage_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEGEN_", "GITHUB_"))}
    env["CODEGEN_LOCAL_DB"] = str(tmp_path / "local.db")
    cmd: list[str | bytes] = [sys.executable, "-m", "codegen_graph", "runs", "create"]
    proc = subprocess.run(
        [*cmd, b"fix the \xff bug"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: argument 3 is not valid UTF-8 (byte 0xff at position 8); pass text encoded "
        "as UTF-8",
        "hint: the shell or script passed bytes in another encoding; convert them (for "
        "example with iconv -t UTF-8) or set a UTF-8 locale",
    ]
    assert not (tmp_path / "local.db").exists(), "nothing ran"


def test_a_lone_surrogate_reaching_a_command_is_a_configuration_error(cli: Cli) -> None:
    result = cli.local("runs", "create", "fix the \udcff bug")
    assert result.exit_code == 2
    assert "error: prompt contains a lone surrogate (U+DCFF) at position 8" in result.stderr
    assert "this is a bug" not in result.stderr
