"""draw_graph: LangGraph's own get_graph(), laid out offline by graphviz, or a clear error."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.graph import END, START, StateGraph

from codegen_graph import CodegenClient, ConfigurationError
from codegen_graph.graph import GraphState, draw_graph, feature_workflow

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="apt-get install graphviz")


@pytest.fixture
def feature() -> Iterator[Any]:
    client = CodegenClient("t", 1, base_url="http://127.0.0.1:9")
    yield feature_workflow(client=client).compile(name="feature")
    client.close()


def test_dot_is_the_graphs_own_nodes_and_edges(feature: Any) -> None:
    dot = draw_graph(feature, "dot").decode()
    drawable = feature.get_graph()
    assert dot.startswith("digraph feature {")
    for edge in drawable.edges:
        style = " [style=dashed]" if edge.conditional else ""
        assert f"  {edge.source} -> {edge.target}{style};\n" in dot
    assert '  gate [label="gate\\n(deferred)"];' in dot
    assert '__start__ [label="START", shape=oval]' in dot
    assert draw_graph(drawable, "dot", name="x").startswith(b"digraph x {")


def _odd_graph() -> object:
    builder = StateGraph(GraphState)
    builder.add_node("fix tests", lambda state: {})
    return builder.add_edge(START, "fix tests").add_edge("fix tests", END).compile(name="my graph")


@needs_dot
def test_svg_and_png_are_laid_out(feature: Any) -> None:
    svg = draw_graph(feature)
    assert svg.lstrip().startswith(b"<?xml") and b">code_wait</text>" in svg
    assert draw_graph(feature, "png").startswith(b"\x89PNG\r\n\x1a\n")
    # node and graph names that are not DOT words are quoted, not a syntax error
    odd = draw_graph(_odd_graph(), "svg")
    assert b">fix tests</text>" in odd and b"<title>my graph</title>" in odd


@needs_dot
def test_dot_text_is_drawn_and_bad_dot_says_why() -> None:
    assert b"<svg" in draw_graph("digraph { a -> b }")
    with pytest.raises(ConfigurationError, match=r"graphviz could not lay out the graph: .*syntax"):
        draw_graph("digraph { a -> }")


def test_missing_graphviz_names_the_extra(feature: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    with pytest.raises(
        ConfigurationError,
        match=r"the notebooks extra \(from a checkout: pip install '\.\[notebooks\]'\)",
    ):
        draw_graph(feature, "png")
    assert draw_graph(feature, "dot").startswith(b"digraph")  # DOT needs no graphviz


def test_missing_dot_program_says_how_to_install(
    feature: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match="apt-get install graphviz"):
        draw_graph(feature, "svg")


def test_bad_arguments() -> None:
    with pytest.raises(ConfigurationError, match="format must be 'svg', 'png' or 'dot'"):
        draw_graph("digraph {}", "jpeg")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not int"):
        draw_graph(42)
