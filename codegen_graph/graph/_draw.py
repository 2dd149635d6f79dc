"""``draw_graph``: a picture of a graph, drawn offline (no web renderer, no network)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from .._exceptions import ConfigurationError

__all__ = ["draw_graph"]

_INSTALL_DOT = "install graphviz's `dot` program (apt-get install graphviz, brew install graphviz)"


def draw_graph(
    graph: Any, format: Literal["svg", "png", "dot"] = "svg", *, name: str | None = None
) -> bytes:
    """Draw ``graph`` with graphviz, laying out LangGraph's own ``get_graph()``.

    Conditional edges are dashed, START and END are ovals, and a deferred node says so.
    The notebooks and the docs site draw every graph with it.

    Args:
        graph: a compiled graph, the drawable graph its ``get_graph()`` returns, or DOT
            source text.
        format: ``"svg"`` or ``"png"`` (laid out by graphviz: needs the ``graphviz`` package,
            from the ``notebooks`` or ``docs`` extra, and its ``dot`` program), or ``"dot"``
            (the DOT source, UTF-8; needs neither).
        name: the DOT graph's name (default: the compiled graph's ``name``).

    Raises:
        ConfigurationError: graphviz or ``dot`` is missing, the format is unknown, or
            graphviz cannot lay out the source.

    Examples:
        >>> from langgraph.graph import END, START, StateGraph
        >>> from codegen_graph.graph import GraphState
        >>> builder = StateGraph(GraphState)
        >>> _ = builder.add_node("code", lambda state: {}).add_edge(START, "code")
        >>> print(draw_graph(builder.add_edge("code", END).compile(), "dot").decode())
        digraph LangGraph {
          node [shape=box, style=rounded, fontname="Helvetica"];
          __start__ [label="START", shape=oval];
          code;
          __end__ [label="END", shape=oval];
          __start__ -> code;
          code -> __end__;
        }
        <BLANKLINE>
        >>> draw_graph(builder.compile(), "png")[:4]  # doctest: +SKIP
        b'\\x89PNG'
    """
    if format not in ("svg", "png", "dot"):
        raise ConfigurationError(f"format must be 'svg', 'png' or 'dot', not {format!r}")
    source = graph if isinstance(graph, str) else _dot(graph, name)
    if format == "dot":
        return source.encode()
    try:
        import graphviz
    except ImportError as exc:
        raise ConfigurationError(
            "drawing a graph needs the graphviz package: install the notebooks extra (from a "
            f"checkout: pip install '.[notebooks]'), and {_INSTALL_DOT}"
        ) from exc
    try:
        drawn: bytes = graphviz.Source(source).pipe(format=format)
    except graphviz.ExecutableNotFound as exc:
        raise ConfigurationError(f"graphviz could not draw the graph: {_INSTALL_DOT}") from exc
    except graphviz.CalledProcessError as exc:
        error = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        raise ConfigurationError(f"graphviz could not lay out the graph: {error.strip()}") from exc
    return drawn


def _dot(graph: Any, name: str | None) -> str:
    drawable = graph.get_graph() if hasattr(graph, "get_graph") else graph
    if not hasattr(drawable, "nodes") or not hasattr(drawable, "edges"):
        raise ConfigurationError(
            f"draw_graph draws a compiled graph, its get_graph() or DOT text, "
            f"not {type(graph).__name__}"
        )
    title = _id(name or getattr(graph, "name", None) or "graph")
    lines = [f"digraph {title} {{", '  node [shape=box, style=rounded, fontname="Helvetica"];']
    for node in drawable.nodes.values():
        if node.id in ("__start__", "__end__"):
            lines.append(f'  {node.id} [label="{node.id.strip("_").upper()}", shape=oval];')
        elif (node.metadata or {}).get("defer"):
            lines.append(f"  {_id(node.id)} [label={_id(node.id + chr(10) + '(deferred)')}];")
        else:
            lines.append(f"  {_id(node.id)};")
    for edge in sorted(drawable.edges, key=lambda e: (e.source, e.target)):
        style = " [style=dashed]" if edge.conditional else ""
        lines.append(f"  {_id(edge.source)} -> {_id(edge.target)}{style};")
    return "\n".join([*lines, "}", ""])


def _id(text: str) -> str:
    """``text`` as a DOT id: bare when it is a word, else a quoted string."""
    return text if re.fullmatch(r"[A-Za-z_]\w*", text) else json.dumps(text)
