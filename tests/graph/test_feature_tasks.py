"""The feature workflow on the embedded backend for ordinary tasks of every kind.

Whatever words a task uses ("test", "docs", "fix"...), each agent does its role's job: the
code and docs agents open pull requests titled after the task, the tests agent reports
tests, and nothing a reader sees (the report, results, summaries, PR titles, branches)
repeats the role instructions the prompts carry.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from codegen_graph.clock import ManualClock
from codegen_graph.graph import DEFAULT_PROMPTS, codegen_retry_policy, feature_workflow
from codegen_graph.local import LocalCodegen

TASKS = [
    "Fix the failing login test",
    "Add a binary search helper with tests and docs",
    "Add a /health endpoint that returns the service version",
    "Write docs for the README installation section",
    "Run the test suite on CI with Python 3.12",
    "Document the retry policy in the docstrings",
    "Refactor the payment module",
    "Increase test coverage of the parser to 90%",
    "Make the tests fail loudly when the database is down",
    "Rename the `docs` folder to `guides`",
    "Add rate limiting\n\nUse a token bucket per user; document it in docs/limits.md and test it.",
    "Update the documentation agent's prompt",
]


def _instruction_fragments() -> list[str]:
    """Every sentence-sized piece of the role instructions (the prompts minus their fields)."""
    pieces: list[str] = []
    for template in DEFAULT_PROMPTS.values():
        for part in re.split(r"\{[a-z_]+\}|\n+|(?<=[.:])\s+", template):
            part = part.strip(" ().:")
            if len(part) >= 12:
                pieces.append(part)
    return pieces


FRAGMENTS = _instruction_fragments()


def test_the_fragments_cover_every_role() -> None:
    assert any("testing agent" in f for f in FRAGMENTS)
    assert any("documentation agent" in f for f in FRAGMENTS)
    assert any("Implement the following feature" in f for f in FRAGMENTS)
    assert any("Update your change" in f for f in FRAGMENTS)


# Every other task runs with the bundled tests_fail_once scenario: the tests agent fails
# once, the code agent is resumed with the report, the tests pass.
CASES = [(task, "tests_fail_once" if i % 2 else None) for i, task in enumerate(TASKS)]


@pytest.mark.parametrize(("task", "scenario"), CASES)
async def test_each_agent_does_its_role_whatever_the_task_says(
    task: str, scenario: str | None
) -> None:
    title = task.splitlines()[0]
    with LocalCodegen(clock=ManualClock(), scenario=scenario) as local:
        async with local.async_client() as client:
            graph = feature_workflow(
                client=client, retry_policy=codegen_retry_policy(initial_interval=0.001)
            ).compile(checkpointer=InMemorySaver())
            config: Any = {"configurable": {"thread_id": "t"}}
            values = await graph.ainvoke({"task": task}, config, durability="sync")
            runs = {
                role: await client.agent_runs.get(record["agent_run_id"])
                for role, record in values["runs"].items()
            }
            logs = {
                role: await (await client.agent_runs.attach(r.id)).logs()
                for role, r in runs.items()
            }

    report = values["report"]
    assert report["verdict"] == "passed"
    assert report["iterations"].get("code", 1) == (2 if scenario else 1)

    code, docs, tests = runs["code"], runs["docs"], runs["tests"]
    assert [pr.title for pr in code.github_pull_requests] == [title[:72]]
    assert [pr.title for pr in docs.github_pull_requests] == [f"Docs: {title}"[:78]]
    assert not tests.github_pull_requests
    assert (tests.result or "").startswith("Test report:")
    assert "tests passed" in (tests.summary or "").lower()
    assert (docs.result or "").startswith("Wrote docs/")
    assert "pull request" in (code.result or "")
    if scenario:
        # The code agent's resume carries the tests agent's report.
        assert "FAILED tests/test_" in (code.result or "")
        assert report["agents"]["code"]["summary"] == f"Implemented: {title[:72]} (revised)"
    else:
        assert report["agents"]["code"]["summary"] == f"Implemented: {title[:72]}"
    assert report["agents"]["docs"]["summary"] == f"Documented: {title[:72]}"

    seen = [json.dumps(report)]
    for run in runs.values():
        seen += [run.result or "", run.summary or ""]
        seen += [f"{pr.title} {pr.head_branch_name}" for pr in run.github_pull_requests]
    for role, entries in logs.items():
        # What the agents wrote (the prompts they were given are the USER_MESSAGEs).
        seen += [
            json.dumps(e.model_dump(mode="json"))
            for e in entries
            if e.message_type != "USER_MESSAGE"
        ]
        assert entries, role
    text = "\n".join(seen)
    leaked = [f for f in FRAGMENTS if f.lower() in text.lower()]
    assert not leaked, leaked
