"""The examples in docs/runs.md run, in order, in one namespace, and print what they say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "runs.md"


def test_runs_docs_examples_run_and_print_what_the_comments_say() -> None:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6
    namespace: dict[str, object] = {"__name__": "docs_runs"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for i, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name}[block {i}]", "exec"), namespace)
    printed = out.getvalue().splitlines()
    for line in ("PENDING False", "COMPLETE 1", "True 0", "1 FINAL_ANSWER COMPLETE", "COMPLETE"):
        assert line in printed, (line, printed)
    assert "[True, True, True]" in printed and "3/3" in printed
    assert "FAILED the sandbox ran out of disk" in printed
    assert "gave up; the run goes on: True" in printed
    stream = printed[printed.index("COMPLETE 1") + 2 :]
    assert stream[:5] == [
        "PLAN_EVALUATION -",
        "ACTION view_file",
        "ACTION edit_file",
        "ACTION create_pr",
        "FINAL_ANSWER -",
    ]
