"""The examples in docs/tools.md run, in order, in one namespace, and print what it says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "tools.md"


def test_docs_examples_run() -> None:
    text = DOC.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "docs_tools"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for i, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name}[block {i}]", "exec"), namespace)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["Agent run 10000: COMPLETE.", "Done: see the pull request.", "1 1"]
    assert lines[3] == "Agent run 10001: PENDING. AgentRunResponse"
    assert lines[4] == (
        "error | There is no agent run 424242 in this organization (HTTP 404). "
        "Check the id with codegen_list_agent_runs."
    )
    assert lines[5] == "['PLAN_EVALUATION', 'ACTION', 'ACTION', 'ACTION', 'FINAL_ANSWER']"
    # The prose quotes the same outputs.
    for line in lines[:3]:
        assert line in text
    assert "prints `Agent run 10001: PENDING. AgentRunResponse`" in text
    assert "prints `['PLAN_EVALUATION', 'ACTION', 'ACTION', 'ACTION', 'FINAL_ANSWER']`" in text
