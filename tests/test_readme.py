"""The README stays true: its Python example runs, and CI runs its test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_quickstart_has_exactly_two_commands() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", quickstart, re.S)
    commands = [
        line for b in blocks for line in b.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert len(commands) == 2, commands
    assert "codegen-graph run" in commands[0]
    assert commands[1].endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = _bash_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_the_python_example_runs() -> None:
    code = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    code = code.replace("time_scale=600", "time_scale=5000")  # the same example, faster
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    state = namespace["state"]
    assert isinstance(state, dict)
    assert state["report"]["verdict"] == "passed"
