"""docs/supervisor.md: its drawing is the graph's (its example: tests/test_docs_examples.py)."""

from __future__ import annotations

import re
from pathlib import Path

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from codegen_graph import CodegenClient
from codegen_graph.graph import supervisor_workflow

DOC = Path(__file__).resolve().parents[2] / "docs" / "supervisor.md"
TEXT = DOC.read_text(encoding="utf-8")


class _Silent(GenericFakeChatModel):
    def bind_tools(self, tools: object, **kwargs: object) -> _Silent:
        return self


def test_the_drawing_has_the_graphs_edges() -> None:
    client = CodegenClient("t", 1, base_url="http://127.0.0.1:9")
    graph = supervisor_workflow(model=_Silent(messages=iter([])), client=client).compile()
    drawable = graph.get_graph()
    edges = {(e.source, e.target, bool(e.conditional)) for e in drawable.edges}
    (dot,) = re.findall(r"```dot\n(.*?)```", TEXT, flags=re.S)
    drawn = re.findall(r"^\s*(\w+) -> (\w+)( \[style=dashed\])?;$", dot, flags=re.M)
    assert {(a, b, bool(dashed)) for a, b, dashed in drawn} == edges
    client.close()
