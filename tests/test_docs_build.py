"""The documentation site builds with `mkdocs build --strict` (broken links, missing pages
and docstring errors fail the build), offline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]'")
    pytest.importorskip("material", reason="mkdocs-material is not installed")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed")
    if shutil.which("dot") is None:
        pytest.skip("the site draws its diagrams with graphviz's `dot` (apt-get install graphviz)")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)]
    result = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "index.html").is_file()
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    assert "Errors and exit codes" in cli
    # mkdocstrings rendered the reference from the docstrings
    reference = (site / "reference" / "client" / "index.html").read_text(encoding="utf-8")
    assert "create_and_wait" in reference and "raise_on_failure" in reference
    # Diagrams are drawn at build time (graphviz, tools/mkdocs_graphviz.py): inline SVG, no
    # ```dot or mermaid source left for a JavaScript renderer, and no script from the network.
    for page in ("concepts", "workflows", "supervisor"):
        html = (site / page / "index.html").read_text(encoding="utf-8")
        assert '<div class="graphviz"><svg' in html, page
        assert "digraph" not in html and 'class="mermaid"' not in html, page
    workflows = (site / "workflows" / "index.html").read_text(encoding="utf-8")
    assert ">code_wait</text>" in workflows and ">gate</text>" in workflows
    for html_file in site.rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        assert not re.search(r"<script[^>]+src=\"https?://", text), html_file


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
