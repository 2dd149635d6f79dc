"""Regenerate the graph drawings (DOT) in docs/workflows.md from the code.

The docs site draws each ```dot block as SVG at build time (tools/mkdocs_graphviz.py).

    python tools/workflow_docs.py          # rewrite the generated blocks
    python tools/workflow_docs.py --check  # exit 1 if they are stale

tests/studio/test_workflows_doc.py runs the same comparison, so the page never rots.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[1] / "docs" / "workflows.md"
BLOCK = re.compile(
    r"(<!-- BEGIN generated: (?P<name>[\w-]+) -->\n```dot\n)"
    r"(?P<body>.*?)"
    r"(```\n<!-- END generated -->)",
    re.S,
)


def to_dot(drawable: Any, name: str) -> str:
    """DOT source of a LangGraph drawable graph (``compiled.get_graph()``).

    Conditional edges are dashed, START and END are ovals, a deferred node says so.
    """
    lines = [f"digraph {name} {{", '  node [shape=box, style=rounded, fontname="Helvetica"];']
    for node in drawable.nodes.values():
        if node.id in ("__start__", "__end__"):
            lines.append(f'  {node.id} [label="{node.id.strip("_").upper()}", shape=oval];')
        elif (node.metadata or {}).get("defer"):
            lines.append(f'  {node.id} [label="{node.id}\\n(deferred)"];')
        else:
            lines.append(f"  {node.id};")
    for edge in sorted(drawable.edges, key=lambda e: (e.source, e.target)):
        style = " [style=dashed]" if edge.conditional else ""
        lines.append(f"  {edge.source} -> {edge.target}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def drawings() -> dict[str, str]:
    """The DOT source of every documented workflow, as the code draws it."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    from codegen_graph.graph import feature_workflow, supervisor_workflow
    from codegen_graph.local import LocalCodegen

    class _Drawing(GenericFakeChatModel):  # drawing needs no answers, only tool binding
        def bind_tools(self, tools: object, **kwargs: object) -> _Drawing:
            return self

    with LocalCodegen() as backend, backend.client() as client:
        feature = to_dot(feature_workflow(client=client).compile().get_graph(), "feature")
        model = _Drawing(messages=iter([]))
        supervisor = supervisor_workflow(model=model, client=client)
        drawn = to_dot(supervisor.compile().get_graph(), "supervisor")
    return {"feature": feature, "supervisor": drawn}


def render(text: str, generated: dict[str, str]) -> str:
    """``text`` with each generated block replaced by the current drawing."""

    def swap(match: re.Match[str]) -> str:
        body = generated[match["name"]]
        return match.group(1) + body.rstrip("\n") + "\n" + match.group(4)

    return BLOCK.sub(swap, text)


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    new = render(text, drawings())
    if "--check" in argv:
        if new != text:
            print("docs/workflows.md is stale: run python tools/workflow_docs.py")
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
