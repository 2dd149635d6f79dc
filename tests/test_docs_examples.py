"""Every Python block of README.md and docs/ runs as written, and prints what the page says.

The blocks of a page run in order in one namespace, as a reader pasting them into one
session would, in an empty temporary directory. The environment is a reader's, pointed at
loopback stand-ins: ``CODEGEN_API_TOKEN``, ``CODEGEN_ORG_ID`` and ``CODEGEN_API_BASE_URL``
name a ``codegen-graph serve`` (:class:`LocalServer`), ``LANGSMITH_ENDPOINT`` a
:class:`LangSmithSink`; so a block written for the real API runs unchanged, offline.

A block that cannot run here says why in the page, in an HTML comment right above it
(GitHub and the site do not show it)::

    <!-- no-run: needs a Redis server -->
    ```python

A line offering the real API instead (``client = backend.client()  # or CodegenClient() for
the real API``) is run both ways. ``CHECKS`` holds what a page's blocks must print or build.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from codegen_graph import AsyncCodegenClient, CodegenClient
from codegen_graph.local import LocalCodegen, LocalServer
from codegen_graph.observability import LangSmithSink, disable_tracing, tracing_is_enabled

ROOT = Path(__file__).resolve().parents[1]
#: Pages whose blocks another test runs its own way: migrating.md shows code written for
#: Codegen's SDK, run by tests/compat/test_migrating_doc.py with the one import swapped.
RUN_ELSEWHERE = {ROOT / "docs" / "migrating.md"}
PAGES = [
    p
    for p in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    if p not in RUN_ELSEWHERE
]
BLOCK = re.compile(
    r"(?:<!-- no-run: (?P<why>.+?) -->\n)?```python\n(?P<code>.*?)^```$", flags=re.S | re.M
)
REAL_API = re.compile(r"^(?P<lhs>\w+ = ).*# or (?P<alt>\w+\(\)) for the real API.*$", re.M)
#: At most this many blocks may opt out: each is a promise the suite does not check. A
#: block whose reason names the test that runs it as written (``(tests/x.py runs it as
#: written)``) is checked there, and does not count.
OPT_OUT_BUDGET = 3
RUN_AS_WRITTEN = re.compile(r"\((?P<test>tests/\S+\.py) runs it as written\)")


@dataclass
class Page:
    path: Path
    text: str
    blocks: list[str]  # the runnable ones, in order
    skipped: list[str]  # why each opted-out block cannot run


def read(path: Path) -> Page:
    text = path.read_text(encoding="utf-8")
    found = list(BLOCK.finditer(text))
    runnable = [m["code"] for m in found if m["why"] is None]
    return Page(path, text, runnable, [m["why"] for m in found if m["why"] is not None])


WITH_CODE = [p for p in PAGES if "```python" in p.read_text(encoding="utf-8")]


def _key(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@dataclass
class Reader:
    server: LocalServer
    sink: LangSmithSink
    cwd: Path


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[tuple[LocalServer, LangSmithSink]]:
    with LocalServer(time_scale=600) as server, LangSmithSink() as sink:
        yield server, sink


@pytest.fixture
def reader(
    stand_ins: tuple[LocalServer, LangSmithSink], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Reader:
    server, sink = stand_ins
    env = {**server.env(), "LANGSMITH_ENDPOINT": sink.url, "LANGSMITH_API_KEY": "lsv2_docs_key"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "CODEGEN_GRAPH_LOCAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return Reader(server, sink, tmp_path)


@contextmanager
def executed(blocks: list[str], name: str, **names: Any) -> Iterator[dict[str, Any]]:
    """The namespace the blocks ran in; its clients and backends are closed on exit."""
    namespace: dict[str, Any] = {"__name__": "docs", **names}
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"{name}[block {i}]", "exec"), namespace)
        yield namespace
    finally:
        if tracing_is_enabled():  # a failed block may leave tracing on: not for other tests
            disable_tracing()
        for value in namespace.values():
            if isinstance(value, (CodegenClient, LocalCodegen)):
                value.close()
            elif isinstance(value, AsyncCodegenClient):
                asyncio.run(value.aclose())


def test_every_block_is_found_and_opt_outs_are_few() -> None:
    pages = [read(p) for p in WITH_CODE]
    for page in pages:  # an indented or odd fence would be silently skipped otherwise
        assert len(page.blocks) + len(page.skipped) == page.text.count("```python"), page.path
        assert page.text.count("<!-- no-run") == len(page.skipped), page.path
    unchecked = [why for p in pages for why in p.skipped if not RUN_AS_WRITTEN.search(why)]
    assert len(unchecked) <= OPT_OUT_BUDGET, unchecked


def test_a_block_run_elsewhere_is_run_there() -> None:
    """The test a ``no-run`` reason names exists and reads that page's blocks."""
    for page in map(read, WITH_CODE):
        for why in page.skipped:
            if found := RUN_AS_WRITTEN.search(why):
                runner = (ROOT / found["test"]).read_text(encoding="utf-8")
                assert _key(page.path) in runner and "runs it as written" in runner, why


@pytest.mark.parametrize("path", WITH_CODE, ids=_key)
def test_the_blocks_run(path: Path, reader: Reader, capsys: pytest.CaptureFixture[str]) -> None:
    page = read(path)
    with executed(page.blocks, path.name) as namespace:
        assert not tracing_is_enabled(), "a page left LangSmith tracing on"
        printed = capsys.readouterr().out.splitlines()
        CHECKS.get(_key(path), lambda *_: None)(printed, namespace, page, reader)


@pytest.mark.parametrize("path", [p for p in WITH_CODE if REAL_API.search(read(p).text)], ids=_key)
def test_the_real_api_alternative_runs(path: Path, reader: Reader) -> None:
    """The page up to the offered line, with the alternative in its place, on the 'real' API."""
    blocks = read(path).blocks
    upto = next(i for i, block in enumerate(blocks) if REAL_API.search(block))
    swapped = [REAL_API.sub(r"\g<lhs>\g<alt>", block) for block in blocks[: upto + 1]]
    created = reader.server.stats()["runs_created"]
    names = {"CodegenClient": CodegenClient, "AsyncCodegenClient": AsyncCodegenClient}
    with executed(swapped, f"{path.name} (real API)", **names):
        assert reader.server.stats()["runs_created"] > created


# -- what the pages say their blocks print or build -------------------------------------


def _readme(printed: list[str], ns: dict[str, Any], page: Page, reader: Reader) -> None:
    assert ns["state"]["report"]["verdict"] == "passed"
    assert printed[-1].startswith("passed ['http")


def _client(printed: list[str], ns: dict[str, Any], page: Page, reader: Reader) -> None:
    for line in ("100 PENDING False", "2 [3.0]", "[60.0]", "1 ticket-123", "half_open"):
        assert line in printed, line
    assert "CodegenClient is closed: make a new client (the runs go on)" in printed
    assert any(line.startswith("me CodegenClient(org_id=7") for line in printed)
    assert "[0.0, 54.0]" in printed  # refreshed 6 s ahead of a 60 s token's expiry
    assert printed[-4:] == ["True"] * 4  # the recipes: environment, file, vault (both clients)


def _contributing(printed: list[str], ns: dict[str, Any], page: Page, reader: Reader) -> None:
    assert printed == ["ada"]  # the resource written in the page answered


def _runs(printed: list[str], ns: dict[str, Any], page: Page, reader: Reader) -> None:
    for line in ("PENDING False", "COMPLETE 1", "True 0", "1 FINAL_ANSWER COMPLETE", "COMPLETE"):
        assert line in printed, (line, printed)
    assert "[True, True, True]" in printed and "3/3" in printed
    assert "FAILED the sandbox ran out of disk" in printed
    assert "gave up; the run goes on: True" in printed
    stream = printed[printed.index("COMPLETE 1") + 2 :]
    assert stream[:5] == [
        "PLAN_EVALUATION -",
        "ACTION view_file",
        "ACTION edit_file",
        "ACTION create_pr",
        "FINAL_ANSWER -",
    ]


def _tools(printed: list[str], ns: dict[str, Any], page: Page, reader: Reader) -> None:
    assert printed[:3] == ["Agent run 10000: COMPLETE.", "Done: see the pull request.", "1 1"]
    assert printed[3] == "Agent run 10001: PENDING. AgentRunResponse"
    assert printed[4] == (
        "error | There is no agent run 424242 in this organization (HTTP 404). "
        "Check the id with codegen_list_agent_runs."
    )
    assert printed[5] == "['PLAN_EVALUATION', 'ACTION', 'ACTION', 'ACTION', 'FINAL_ANSWER']"
    for line in printed[:3]:  # the prose quotes the same outputs
        assert line in page.text
    assert "prints `Agent run 10001: PENDING. AgentRunResponse`" in page.text
    assert f"prints `{printed[5]}`" in page.text


def _supervisor(printed: list[str], ns: dict[str, Any], page: Page, reader: Reader) -> None:
    said = re.search(r"prints\n\n```text\n(.*?)```", page.text, flags=re.S)
    assert said is not None
    assert printed == said.group(1).splitlines()


def _workflows(printed: list[str], ns: dict[str, Any], page: Page, reader: Reader) -> None:
    assert printed[0] == "digraph feature {"  # the draw_graph example
    assert ns["backend"].stats()["duplicates"] == 0
    assert (reader.cwd / "checkpoints.sqlite").is_file()  # the SQLite example's database


def _observability(printed: list[str], ns: dict[str, Any], page: Page, reader: Reader) -> None:
    # enable_tracing read LANGSMITH_ENDPOINT: the first example's trace reached the sink
    assert any(r.get("session_name") == "feature-work" for r in reader.sink.runs.values())
    assert "LangGraph [chain]" in printed  # the sink example's tree
    audit = [json.loads(line) for line in (reader.cwd / "audit.jsonl").read_text().splitlines()]
    resumed = [entry for entry in audit if entry.get("action") == "resume"]
    assert resumed and resumed[-1]["role"] == "code" and resumed[-1]["actor"] == "ci-bot"


CHECKS: dict[str, Callable[[list[str], dict[str, Any], Page, Reader], None]] = {
    "README.md": _readme,
    "docs/client.md": _client,
    "docs/contributing.md": _contributing,
    "docs/runs.md": _runs,
    "docs/tools.md": _tools,
    "docs/supervisor.md": _supervisor,
    "docs/workflows.md": _workflows,
    "docs/observability.md": _observability,
}
