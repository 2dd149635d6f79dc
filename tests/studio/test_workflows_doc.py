"""docs/workflows.md: the drawing matches the code (its blocks: tests/test_docs_examples.py)."""

from __future__ import annotations

import importlib.util
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
