"""docs/workflows.md: the drawing matches the code, and its code blocks run in order."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "workflows.md"


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location(
        "workflow_docs", ROOT / "tools" / "workflow_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_drawing_is_what_the_code_draws() -> None:
    tool = _tool()
    text = DOC.read_text(encoding="utf-8")
    generated = tool.drawings()
    blocks = {m["name"]: m["body"] for m in tool.BLOCK.finditer(text)}
    assert set(blocks) == set(generated)
    for name, body in blocks.items():
        assert body.rstrip("\n") == generated[name].rstrip("\n"), (
            f"the {name} drawing in docs/workflows.md is stale: run python tools/workflow_docs.py"
        )
    assert blocks["feature"].startswith("digraph feature {")
    assert "gate -> fix [style=dashed];" in blocks["feature"]


def test_the_code_blocks_run(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    runnable = [b for b in blocks if not b.startswith("# needs")]
    assert len(runnable) >= 4
    namespace: dict[str, Any] = {"__name__": "docs", "tmp_dir": tmp_path}
    try:
        for index, block in enumerate(runnable):
            exec(compile(block, f"{DOC.name}[{index}]", "exec"), namespace)
        assert namespace["backend"].stats()["duplicates"] == 0
    finally:
        if "client" in namespace:
            namespace["client"].close()
        if "backend" in namespace:
            namespace["backend"].close()
