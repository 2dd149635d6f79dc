"""The documentation site builds with `mkdocs build --strict`, offline, without one warning.

No ``-q``: it hides the warnings *and* keeps them from counting, so a strict build with
``-q`` exits 0 whatever is wrong. The check also reads the log itself, and a second test
builds a copy of the docs with a dead link and a dead anchor to show that the check fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def docs_extra() -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]'")
    pytest.importorskip("material", reason="mkdocs-material is not installed")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed")
    if shutil.which("dot") is None:
        pytest.skip("the site draws its diagrams with graphviz's `dot` (apt-get install graphviz)")


def build_problems(root: Path, site: Path) -> list[str]:
    """What is wrong with `mkdocs build --strict` of the project at ``root``: its warnings
    and errors, and its exit status when it is not 0. An empty list: the site is fine."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)]
    result = subprocess.run(
        cmd, cwd=root, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    log = (result.stdout + result.stderr).splitlines()
    problems = [line for line in log if re.match(r"\s*(WARNING|ERROR)\b", line)]
    if result.returncode != 0:
        problems.append(f"mkdocs exited {result.returncode}")
    return problems


@pytest.mark.usefixtures("docs_extra")
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert build_problems(ROOT, site) == []
    assert (site / "index.html").is_file()
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    assert "Errors and exit codes" in cli
    # mkdocstrings rendered the reference from the docstrings, doctest examples as code
    reference = (site / "reference" / "client" / "index.html").read_text(encoding="utf-8")
    assert "create_and_wait" in reference and "raise_on_failure" in reference
    graph_ref = (site / "reference" / "graph" / "index.html").read_text(encoding="utf-8")
    assert "<blockquote>" not in graph_ref and '<span class="gp">&gt;&gt;&gt; </span>' in graph_ref
    # Diagrams are drawn at build time (codegen_graph.graph.draw_graph): inline SVG, no
    # ```dot or mermaid source left for a JavaScript renderer, and no script from the network.
    for page in ("concepts", "workflows", "supervisor"):
        html = (site / page / "index.html").read_text(encoding="utf-8")
        assert '<div class="graphviz"><svg' in html, page
        assert ">digraph</span>" not in html and 'class="mermaid"' not in html, page
    workflows = (site / "workflows" / "index.html").read_text(encoding="utf-8")
    assert ">code_wait</text>" in workflows and ">gate</text>" in workflows
    for html_file in site.rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        assert not re.search(r"<script[^>]+src=\"https?://", text), html_file


@pytest.mark.usefixtures("docs_extra")
def test_a_dead_link_or_anchor_fails_the_check(tmp_path: Path) -> None:
    """The same site with one dead link and one dead anchor: the check names both."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copytree(ROOT / "tools", copy / "tools")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "codegen_graph").symlink_to(ROOT / "codegen_graph")
    page = copy / "docs" / "concepts.md"
    dead = "\nSee [the limits](limits.md) and [the CLI's errors](cli.md#no-such-section).\n"
    page.write_text(page.read_text(encoding="utf-8") + dead, encoding="utf-8")
    problems = build_problems(copy, tmp_path / "site")
    assert any("limits.md" in p and "not found" in p for p in problems), problems
    assert any("#no-such-section" in p for p in problems), problems
    assert "mkdocs exited 1" in problems  # strict mode counted the warnings


def test_every_docs_page_is_in_the_nav() -> None:
    yaml = pytest.importorskip("yaml")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    # mkdocs.yml uses a !!python/name tag; strip it to read the nav with safe_load
    nav = yaml.safe_load(config.replace("!!python/name:", ""))["nav"]

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        if isinstance(node, dict):
            return [p for value in node.values() for p in pages(value)]
        return []

    listed = set(pages(nav))
    present = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert listed <= present, f"nav names missing pages: {sorted(listed - present)}"
    assert present - listed == set(), f"pages not in the nav: {sorted(present - listed)}"
