"""Regenerate the graph drawings (DOT) in docs/workflows.md from the code.

The drawings are ``codegen_graph.graph.draw_graph``'s DOT; the docs site lays each ```dot
block out as SVG at build time with the same helper (tools/mkdocs_graphviz.py).

    python tools/workflow_docs.py          # rewrite the generated blocks
    python tools/workflow_docs.py --check  # exit 1 if they are stale

tests/studio/test_workflows_doc.py runs the same comparison, so the page never rots.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "workflows.md"
BLOCK = re.compile(
    r"(<!-- BEGIN generated: (?P<name>[\w-]+) -->\n```dot\n)"
    r"(?P<body>.*?)"
    r"(```\n<!-- END generated -->)",
    re.S,
)


def drawings() -> dict[str, str]:
    """The DOT source of every documented workflow, as the code draws it."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    from codegen_graph.graph import draw_graph, feature_workflow, supervisor_workflow
    from codegen_graph.local import LocalCodegen

    class _Drawing(GenericFakeChatModel):  # drawing needs no answers, only tool binding
        def bind_tools(self, tools: object, **kwargs: object) -> _Drawing:
            return self

    with LocalCodegen() as backend, backend.client() as client:
        feature = draw_graph(feature_workflow(client=client).compile(), "dot", name="feature")
        model = _Drawing(messages=iter([]))
        supervisor = supervisor_workflow(model=model, client=client)
        drawn = draw_graph(supervisor.compile(), "dot", name="supervisor")
    return {"feature": feature.decode(), "supervisor": drawn.decode()}


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
