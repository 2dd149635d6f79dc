"""mkdocs hook: draw ```dot fences as inline SVG at build time, offline.

mkdocs.yml lists it under ``hooks:``. Each fenced block whose language is ``dot`` is laid
out by :func:`codegen_graph.graph.draw_graph` (the one drawing helper, also the notebooks')
and replaced by the SVG itself, so the built site needs no JavaScript renderer and no
network, at build time or when it is read. A block graphviz cannot lay out fails the build
with graphviz's message.
"""

from __future__ import annotations

import re
from typing import Any

from codegen_graph.graph import draw_graph

FENCE = re.compile(r"^```dot\n(?P<source>.*?)^```$", re.S | re.M)
_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)


def svg(source: str) -> str:
    """The SVG drawing of a DOT ``source`` (no XML prolog: it is inlined in HTML)."""
    drawn = draw_graph(source, "svg").decode()
    # Comments and the prolog would end the markdown HTML block early; drop them.
    body = _PROLOG.sub("", drawn)
    body = re.sub(r"<!--.*?-->", "", body, flags=re.S)
    return '<div class="graphviz">' + "".join(body.splitlines()) + "</div>"


def on_page_markdown(markdown: str, **_: Any) -> str:
    """mkdocs event: every ```dot fence of the page becomes its drawing."""
    return FENCE.sub(lambda m: svg(m["source"]), markdown)
