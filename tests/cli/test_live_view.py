"""The live view of ``codegen-graph run`` and its summary, as an 80-column terminal shows them.

The workflow runs on the embedded backend with a :class:`ManualClock` (the tests agent
fails once, so the code agent is resumed); ``_drive`` draws its live view on a captured
terminal (a rich console that believes it is an interactive 80-column tty), and the frames
are read back from the escape codes rich writes between them.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from rich.console import Console

from codegen_graph.cli import _run
from codegen_graph.cli._common import CliState
from codegen_graph.clock import ManualClock
from codegen_graph.graph import feature_workflow
from codegen_graph.local import LocalCodegen

SPEC = "Add a /health endpoint that returns the service version"
WIDTH = 80
#: What rich writes before drawing a frame over the previous one.
_REDRAW = re.compile(r"\r(?:\x1b\[2K\x1b\[1A)*\x1b\[2K")
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_URL = re.compile(r"https?://\S+")


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(
        file=out, width=WIDTH, force_terminal=True, force_interactive=True, _environ={}
    )
    return console, out


def _frames(raw: str) -> list[str]:
    return [_ESCAPE.sub("", f) for f in _REDRAW.split(raw) if f.strip()]


class Drawn:
    """One workflow run: the frames of its live view and its summary, as text, and every
    word the agents wrote in their logs."""

    def __init__(
        self, frames: list[str], summary: dict[str, Any], printed: str, words: set[str]
    ) -> None:
        self.frames, self.summary, self.printed, self.words = frames, summary, printed, words

    def rows(self, label: str) -> list[str]:
        """Every line drawn for the row of ``label`` (``"tests (#2)"``), in every frame."""
        lines = (line for f in self.frames for line in f.splitlines())
        return [line for line in lines if line.startswith("│") and _cells(line)[0] == label]


def _run_workflow(
    monkeypatch: pytest.MonkeyPatch, ask: Callable[[ManualClock], Any] | None = None
) -> Drawn:
    console, out = _terminal()
    monkeypatch.setattr(CliState, "err", property(lambda self: console))
    clock = ManualClock()
    if ask is not None:
        monkeypatch.setattr(_run, "_ask_approval", lambda question, err: ask(clock))

    words: set[str] = set()

    async def go() -> tuple[dict[str, Any], Any]:
        with LocalCodegen(clock=clock, scenario="tests_fail_once") as backend:
            async with backend.async_client() as client:
                graph = feature_workflow(client=client, require_approval=ask is not None)
                compiled = graph.compile(checkpointer=InMemorySaver())
                config: Any = {"configurable": {"thread_id": "t-live"}}
                approve = ask is not None
                drawn = await _run._drive(
                    compiled,
                    config,
                    {"task": SPEC},
                    approve=approve,
                    live=True,
                    clock_now=clock.now,
                )
                for run in (await client.agent_runs.list()).items:
                    async for entry in client.agent_runs.iter_logs(run.id):
                        texts = (entry.message_type, entry.tool_name, entry.thought)
                        words.update(w for t in texts for w in str(t or "").lower().split())
                return drawn  # type: ignore[no-any-return]

    values, progress = asyncio.run(go())
    summary = _run._summary(values, "t-live", progress.approvals)
    printer, printed = _terminal()
    _run._print_summary(summary, printer)
    text = _ESCAPE.sub("", printed.getvalue())
    return Drawn(_frames(out.getvalue()), summary, text, words)


@pytest.fixture(scope="module")
def drawn() -> Iterator[Drawn]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _run_workflow(monkeypatch)


def test_a_new_segment_starts_with_an_empty_row(drawn: Drawn) -> None:
    first = drawn.rows("tests")
    assert any("error: Test report: 11" in line for line in first), first
    again = drawn.rows("tests (#2)")
    assert any("PENDING" in line for line in again), again
    # The second tests run shows only itself: not the first run's error, nor its status.
    assert not any("error" in line or "FAILED" in line for line in again), again


def test_internal_markers_never_show(drawn: Drawn) -> None:
    resumed = drawn.rows("code (#2)")
    assert any("user_message: Feedback from" in line for line in resumed), resumed
    assert not any("[codegen-graph" in f or "follow-up" in f for f in drawn.frames)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("│").split("│")]


def test_text_is_cut_at_a_word_boundary(drawn: Drawn) -> None:
    rows = [line for role in ("code", "tests", "docs") for line in drawn.rows(role)]
    # One line per agent: a cell never wraps onto a second line...
    body = [line for f in drawn.frames for line in f.splitlines() if line.startswith("│")]
    again = [*drawn.rows("code (#2)"), *drawn.rows("tests (#2)")]
    assert len(body) == len(rows) + len(again)
    # ...and a step too wide for it ends after a whole word the agent wrote, marked "…".
    cut = [_cells(line)[3] for line in rows if _cells(line)[3].endswith("…")]
    assert cut, "the scenario's steps are wider than the column"
    for step in cut:
        kind, _, said = step[:-1].partition(": ")
        assert kind in drawn.words and said.split(), step
        assert set(said.lower().split()) <= drawn.words, step


def test_columns_keep_their_width_on_every_refresh(drawn: Drawn) -> None:
    borders = {
        tuple(i for i, ch in enumerate(line) if ch in "┃│")
        for f in drawn.frames
        for line in f.splitlines()
        if line.startswith(("┃", "│"))
    }
    assert len(borders) == 1, borders
    assert len(drawn.frames) > 10
    assert all(len(line) == WIDTH for f in drawn.frames for line in f.splitlines()[1:6])


def test_links_are_never_cut(drawn: Drawn) -> None:
    prs = drawn.summary["pr_urls"]
    assert len(prs) == 2
    for text in (*drawn.frames, drawn.printed):
        for url in _URL.findall(text):
            assert url in prs, (url, text)
    for url in prs:
        assert f"PR: {url}" in drawn.printed.splitlines()
        assert any(f"{url}" in line for f in drawn.frames for line in f.splitlines())


def test_a_long_link_is_printed_whole_on_80_columns() -> None:
    url = "https://github.com/an-organisation/a-rather-long-repository-name/pull/12345"
    agents = {"code": {"status": "COMPLETE", "agent_run_id": 7, "seconds": 1.0, "pr_urls": [url]}}
    summary = {"verdict": "passed", "agents": agents, "iterations": {}, "pr_urls": [url]}
    console, out = _terminal()
    _run._print_summary(summary, console)
    lines = _ESCAPE.sub("", out.getvalue()).splitlines()
    assert f"PR: {url}" in lines
    assert any("#12345" in line for line in lines)


def test_time_at_the_approval_prompt_is_not_agent_time(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([{"approve": False, "feedback": "rename the field"}, True])

    def person(clock: ManualClock) -> Any:  # ten minutes at the prompt, each time
        clock.advance(600)
        return next(answers)

    drawn = _run_workflow(monkeypatch, ask=person)
    summary = drawn.summary
    assert summary["verdict"] == "approved"
    assert summary["approval"] == {"decisions": 2, "seconds": 1200.0}
    code = summary["agents"]["code"]
    assert code["status"] == "COMPLETE" and 0 < code["seconds"] < 600, code
    # The live view: the approval row, apart from the agents' rows.
    assert any("rejected" in line and "600.0s" in line for line in drawn.rows("approval"))
    assert any("code (#3)" in f for f in drawn.frames)
    (row,) = [line for line in drawn.printed.splitlines() if line.startswith("│ approval")]
    assert _cells(row)[:4] == ["approval", "you", "2", "1200.0"]
