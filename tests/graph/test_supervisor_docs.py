"""docs/supervisor.md: its example runs and prints what the page says; its drawing is the
graph's."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from codegen_graph import CodegenClient
from codegen_graph.graph import supervisor_workflow

DOC = Path(__file__).resolve().parents[2] / "docs" / "supervisor.md"
TEXT = DOC.read_text(encoding="utf-8")


def test_the_example_runs_and_prints_what_the_page_says() -> None:
    (block,) = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, f"{DOC.name}[example]", "exec"), {"__name__": "docs_supervisor"})
    printed = re.search(r"prints\n\n```text\n(.*?)```", TEXT, flags=re.S)
    assert printed is not None
    assert out.getvalue() == printed.group(1)


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
