"""docs/migrating.md runs: each Python block on its own against ``codegen-graph serve``, the
SDK's patterns with only their import changed, and the ``review-pr`` command it shows."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codegen_graph.cli import app
from codegen_graph.local import LocalServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"
SDK_IMPORT = re.compile(r"^from codegen import Agent$", re.M)
REPO, PR = "octo/demo", "17"


def sections() -> dict[str, list[tuple[str, str]]]:
    """Each ``## `` section's fenced blocks, as ``(language, code)``."""
    found: dict[str, list[tuple[str, str]]] = {}
    for part in DOC.read_text(encoding="utf-8").split("\n## ")[1:]:
        title, _, body = part.partition("\n")
        found[title] = re.findall(r"```(\w+)\n(.*?)```", body, flags=re.S)
    return found


def python_blocks() -> list[Any]:
    return [
        pytest.param(title, code, id=f"{title}[{i}]")
        for title, blocks in sections().items()
        for i, (lang, code) in enumerate(blocks)
        if lang == "python"
    ]


def loc(code: str) -> int:
    """Lines of code: neither blank nor a comment."""
    return sum(1 for ln in code.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """A stand-in of GitHub's comment API on 127.0.0.1, and the variables Actions sets."""
    posted: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            posted.append({"path": self.path, "auth": self.headers["Authorization"], **body})
            data = json.dumps({"id": len(posted), "html_url": f"https://github.test{self.path}"})
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data.encode())

        def log_message(self, *args: Any) -> None:
            pass

    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=stand_in.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{stand_in.server_address[1]}")
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_compat_canary_4711")
    monkeypatch.setenv("PR_NUMBER", PR)
    try:
        yield posted
    finally:
        stand_in.shutdown()
        stand_in.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(("section", "code"), python_blocks())
def test_each_block_runs_on_its_own_and_prints_what_it_says(
    section: str, code: str, sdk_env: LocalServer, github: list[dict[str, Any]]
) -> None:
    if SDK_IMPORT.search(code):
        code, swapped = SDK_IMPORT.subn("from codegen_graph.compat import Agent", code)
        assert swapped == 1  # the one change: the import
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"{DOC.name}[{section}]", "exec"), {"__name__": "docs_migrating"})
    promised = re.findall(r"^print\(.*\)  # (.*)$", code, flags=re.M)
    assert out.getvalue().splitlines() == promised
    if section == "CI review":
        (comment,) = github
        assert comment["path"] == f"/repos/{REPO}/issues/{PR}/comments"
        assert comment["body"] and comment["auth"] == "Bearer ghs_compat_canary_4711"


def test_the_seed_patterns_are_all_there() -> None:
    """The done-when of the guide: every SDK pattern runs above (a block per section)."""
    with_sdk = {t for t, blocks in sections().items() for _, c in blocks if SDK_IMPORT.search(c)}
    assert with_sdk == {
        "Basic polling",
        "Retry with backoff",
        "Batch processing",
        "Code, tests and docs",
        "CI review",
    }


def test_the_review_pr_command_posts_the_review(
    sdk_env: LocalServer, github: list[dict[str, Any]], tmp_path: Path
) -> None:
    ((_, command),) = [b for b in sections()["CI review"] if b[0] == "bash"]
    args = shlex.split(os.path.expandvars(command.strip()))
    assert args[0] == "codegen-graph"
    result = CliRunner().invoke(
        app, args[1:], env={"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    )
    assert result.exit_code == 0, result.output
    (comment,) = github
    assert comment["path"] == f"/repos/{REPO}/issues/{PR}/comments"
    assert "ghs_compat_canary_4711" not in result.output
    assert (tmp_path / "summary.md").read_text(encoding="utf-8").strip()


def test_the_table_counts_the_blocks_lines() -> None:
    table = re.findall(
        r"^\| \[([^\]]+)\]\(#[\w-]+\) \| (\d+) \| (\d+) \|", DOC.read_text(), flags=re.M
    )
    found = sections()
    titles = {t.lower().replace(",", ""): t for t in found}
    counted = []
    for name, sdk, ours in table:
        blocks = found[titles[name.lower().replace(",", "")]]
        (seed,) = [c for _, c in blocks if SDK_IMPORT.search(c)]
        counted.append((name, int(sdk), int(ours), loc(seed), loc(blocks[-1][1])))
    assert len(counted) == 5
    assert [(n, s, o) for n, s, o, _, _ in counted] == [(n, s, o) for n, _, _, s, o in counted]
