"""``codegen-graph run`` traced through the ``LANGSMITH_*`` variables, to the loopback sink."""

from __future__ import annotations

import os
import subprocess
import sys

from codegen_graph.observability import LangSmithSink

TASK = "Add a /health endpoint that returns the service version"
PLANTED = "sk-planted0123456789abcdefghij"
#: Real seconds before the child counts as hung (a bound for a hang, not a speed).
HUNG = 600.0


def test_the_cli_traces_the_workflow_rooted_at_its_name_and_redacted() -> None:
    with LangSmithSink() as sink:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEGEN_", "LANGCHAIN_"))}
        env.update(
            LANGSMITH_TRACING="true",
            LANGSMITH_ENDPOINT=sink.url,
            LANGSMITH_API_KEY="fake-langsmith-key-0123456789",
            LANGSMITH_PROJECT="cli-traces",
        )
        args = ["run", f"{TASK}. Deploy key: {PLANTED}", "--local", "--time-scale", "2000"]
        proc = subprocess.run(
            [sys.executable, "-m", "codegen_graph", *args, "--thread", "t-cli", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=HUNG,
        )
        assert proc.returncode == 0, proc.stderr
        (root,) = sink.tree()  # everything was sent before the command exited
    assert root.name == "feature"
    assert root.metadata["thread_id"] == "t-cli"
    assert root.run.get("session_name") == "cli-traces"
    assert {"code", "tests", "docs", "report"} <= {c.name for c in root.children}
    assert [op.name for op in root.find("codegen.create")] == ["codegen.create"] * 3
    assert sink.raw_payloads and not sink.contains(PLANTED)
