"""The examples in docs/client.md run, in order, in one namespace (so they never rot)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"


def test_docs_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 8
    namespace: dict[str, object] = {"__name__": "docs_client"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for i, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name}[block {i}]", "exec"), namespace)
    lines = out.getvalue().splitlines()
    # Spot-check the outputs the comments promise.
    assert "100 PENDING False" in lines
    assert "2 [3.0]" in lines
    assert "[60.0]" in lines
    assert "1 ticket-123" in lines
    assert "half_open" in lines
    assert any(line.startswith("me CodegenClient(org_id=7") for line in lines)
