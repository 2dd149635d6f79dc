"""A reviewer's feedback reaches the code agent even if the run got another follow-up.

Issue 21, case 3: with ``require_approval=True``, a follow-up from elsewhere while the
thread waited for the reviewer (a chat in Codegen's UI, an answer to a PR comment) grew the
run's log, and ``fix`` took that for its own message: the reviewer's feedback was dropped.
"""

from __future__ import annotations

from langgraph.types import Command

from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen

from .test_workflow import TASK, _compile, _drive

# The row of docs/reliability.md's Trust table (tools/reliability_table.py renders it).
TRUST_ROW = (
    "a reviewer's rejection with feedback reaches the code agent although someone else "
    "resumed the run while the reviewer read"
)

FEEDBACK = "Rename the endpoint to /healthz and add a version field"


async def test_the_reviewers_feedback_arrives_after_an_external_follow_up() -> None:
    with LocalCodegen(clock=ManualClock()) as local:
        async with local.async_client() as client:
            graph = _compile(client, require_approval=True)
            _, paused = await _drive(graph, {"task": TASK})
            assert paused["next"] == ("approval",)
            code_run = paused["values"]["runs"]["code"]["agent_run_id"]
            # someone chats with the agent in Codegen's UI while the reviewer reads
            other = await client.agent_runs.attach(code_run)
            await other.resume("Also, please keep the README in sync")
            await other.wait(timeout=3600)
            _, again = await _drive(graph, Command(resume={"approve": False, "feedback": FEEDBACK}))
            texts = [
                e.thought or "" for e in await (await client.agent_runs.attach(code_run)).logs()
            ]
            assert any(FEEDBACK in text for text in texts), texts[-5:]
            assert again["values"]["iterations"]["code"] == 2
            assert local.stats()["runs_resumed"] == 2  # the chat, then the reviewer's feedback
