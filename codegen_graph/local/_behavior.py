"""Agent behaviours: what a local agent run does, decided when the run starts or resumes.

A behaviour turns a :class:`RunContext` (the prompt, the run's history, attempt counters)
into an :class:`Outcome` (steps, final status, result, summary, pull requests, duration).
The run engine lays the outcome out on the clock; nothing runs in the background.

Three behaviours ship: :class:`ScriptedBehavior` (the default, deterministic from the
run's role and task), :class:`~codegen_graph.local.ScenarioBehavior` (scenario files) and
:class:`ChatModelBehavior` (any LangChain chat model answers the prompt).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._schema_answer import with_schema_answer

__all__ = [
    "AgentBehavior",
    "ChatModelBehavior",
    "Outcome",
    "PullRequestSpec",
    "RunContext",
    "ScriptedBehavior",
    "Step",
]

TERMINAL_STATUSES = ("COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED")


@dataclass(frozen=True)
class Step:
    """One log entry the agent writes while it works.

    Attributes:
        message_type: ``PLAN_EVALUATION``, ``ACTION``, ``FINAL_ANSWER``, ``ERROR``...
        thought: the agent's reasoning shown in the log.
        tool_name: for ``ACTION`` steps, the tool called.
        tool_input: the tool's arguments.
        tool_output: what the tool returned.
        observation: free-form observation (dict or string).
    """

    message_type: str
    thought: str | None = None
    tool_name: str | None = None
    tool_input: dict[str, Any] | None = None
    tool_output: dict[str, Any] | None = None
    observation: dict[str, Any] | str | None = None


@dataclass(frozen=True)
class PullRequestSpec:
    """A pull request the run opens when it finishes successfully."""

    title: str
    head_branch_name: str


@dataclass(frozen=True)
class Outcome:
    """What one segment of a run (its start or a resume) does.

    The engine spreads ``steps`` evenly over ``duration`` simulated seconds, then writes a
    ``FINAL_ANSWER`` log (status ``COMPLETE``) or an ``ERROR`` log (any other status)
    carrying ``result``, and sets the run's final status.

    Attributes:
        status: the final status, one of ``COMPLETE``, ``FAILED``, ``ERROR``,
            ``CANCELLED``, ``STOPPED``.
        result: the run's ``result`` text.
        summary: the run's ``summary`` text.
        steps: the log entries written before the final one.
        pull_requests: pull requests opened (only on ``COMPLETE``).
        duration: simulated seconds from start (or resume) to the final status.
    """

    status: str
    result: str
    summary: str | None = None
    steps: tuple[Step, ...] = ()
    pull_requests: tuple[PullRequestSpec, ...] = ()
    duration: float = 60.0

    def __post_init__(self) -> None:
        if self.status not in TERMINAL_STATUSES:
            raise ValueError(
                f"Outcome.status must be one of {', '.join(TERMINAL_STATUSES)}, got {self.status!r}"
            )
        if self.duration < 0:
            raise ValueError("Outcome.duration must be >= 0 simulated seconds")


@dataclass(frozen=True)
class RunContext:
    """What a behaviour knows when a run starts or resumes.

    Attributes:
        run_id: the agent run id.
        org_id: the organization id.
        prompt: the prompt of this segment (the create prompt, or the resume prompt).
        initial_prompt: the prompt the run was created with.
        prompts: every prompt of the run so far, oldest first (this one last).
        results: the results of the run's earlier segments, oldest first.
        segment: 1 for the create, 2 for the first resume, and so on.
        metadata: the run's metadata as the client sent it (the graph nodes put the
            agent's role under ``codegen_graph_role`` and the task under
            ``codegen_graph_task``).
        repo_id: the repo id from the create call.
        model: the model from the create call.
        counter: ``counter(key)`` increments a persistent counter and returns its new
            value; scenario attempt numbers are built on it.
    """

    run_id: int
    org_id: int
    prompt: str
    initial_prompt: str
    prompts: tuple[str, ...]
    results: tuple[str, ...] = ()
    segment: int = 1
    metadata: dict[str, Any] | None = None
    repo_id: int | None = None
    model: str | None = None
    counter: Callable[[str], int] = field(default=lambda _key: 1, repr=False, compare=False)

    @property
    def is_resume(self) -> bool:
        """True when this segment comes from a resume call."""
        return self.segment > 1


@runtime_checkable
class AgentBehavior(Protocol):
    """Decides what an agent run does. Must be deterministic for reproducible runs."""

    def plan(self, ctx: RunContext) -> Outcome:
        """Return the outcome of the run segment described by ``ctx``."""
        ...


def _digest(*parts: object) -> int:
    raw = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big")


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    return _digest(*parts) / 2**64


_STOP_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "it", "its", "of"}
    | {"on", "or", "that", "the", "this", "to", "which", "with"}
)


def task_slug(text: str, words: int = 4) -> str:
    """The task as a short name: ``"Add a /health endpoint"`` -> ``"add-health-endpoint"``."""
    tokens = [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in _STOP_WORDS]
    return "-".join(tokens[:words]) or "change"


def task_title(text: str) -> str:
    """The task's first line, at most 72 characters (a pull request title)."""
    first = text.strip().splitlines()[0].strip() if text.strip() else "Update"
    return first[:72]


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


#: Run metadata keys the local agents read (the graph nodes write them; the local backend
#: shares no code with the graph layer, only these names on the wire).
ROLE_METADATA_KEY = "codegen_graph_role"
TASK_METADATA_KEY = "codegen_graph_task"

_TESTING_ROLES = frozenset({"tests", "test", "testing", "qa"})
_DOCS_ROLES = frozenset({"docs", "doc", "documentation", "writer"})


def run_role(ctx: RunContext) -> str:
    """The run's role: ``metadata["codegen_graph_role"]`` as the client sent it, else ``"code"``."""
    role = (ctx.metadata or {}).get(ROLE_METADATA_KEY)
    return str(role).strip() if isinstance(role, str) and role.strip() else "code"


def run_task(ctx: RunContext) -> str:
    """What the run is about: ``metadata["codegen_graph_task"]`` (the graph sends the task
    apart from the role's instructions), else the prompt the run was created with."""
    task = (ctx.metadata or {}).get(TASK_METADATA_KEY)
    return task if isinstance(task, str) and task.strip() else ctx.initial_prompt


def run_feedback(ctx: RunContext) -> str:
    """What a resume asks for, on one line: the last paragraph of the resume prompt (a
    plain follow-up is all feedback; the graph's fix prompt puts the feedback last)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", ctx.prompt) if p.strip()]
    return _one_line(paragraphs[-1] if paragraphs else ctx.prompt)


def agent_kind(role: str) -> str:
    """What an agent of ``role`` does: ``"testing"``, ``"docs"`` or ``"coding"``."""
    name = role.strip().lower()
    if name in _TESTING_ROLES:
        return "testing"
    if name in _DOCS_ROLES:
        return "docs"
    return "coding"


_Plan = tuple[tuple[Step, ...], str, str, str, tuple[PullRequestSpec, ...]]


class ScriptedBehavior:
    """The default behaviour: deterministic outcomes from the run's role and task.

    The role is the one the client sent (``metadata["codegen_graph_role"]``, which the graph
    nodes set); a run without one is a coding run, whatever its prompt says. Titles,
    branches, file names and summaries come from the task (``metadata["codegen_graph_task"]``,
    else the create prompt), never from a role's instructions:

    * a coding run (role ``code`` or none) edits a file named after the task and opens a
      pull request titled with the task; a resume pushes to the same pull request and says
      which feedback it addressed;
    * a testing run (role ``tests``) runs the suite and reports either
      ``Test report: N passed, 0 failed. All N tests passed.`` or the failing tests
      (``test_failure_rate`` of segments fail, chosen by a hash of seed, task and segment, so
      the same input gives the same report); it opens no pull request;
    * a docs run (role ``docs``) writes ``docs/<task-slug>.md`` and opens a pull request.

    Durations are ``base_seconds + per_step_seconds * steps`` scaled by a deterministic
    jitter in ``[1 - jitter, 1 + jitter]``.

    Args:
        base_seconds: simulated seconds every run takes at least.
        per_step_seconds: simulated seconds added per step.
        jitter: relative spread of durations (0 disables it).
        test_failure_rate: the share of testing runs whose report lists failures.
        seed: changes every derived choice at once.
    """

    def __init__(
        self,
        *,
        base_seconds: float = 20.0,
        per_step_seconds: float = 10.0,
        jitter: float = 0.2,
        test_failure_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        if base_seconds < 0 or per_step_seconds < 0:
            raise ValueError("durations must be >= 0")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if not 0 <= test_failure_rate <= 1:
            raise ValueError("test_failure_rate must be in [0, 1]")
        self.base_seconds = base_seconds
        self.per_step_seconds = per_step_seconds
        self.jitter = jitter
        self.test_failure_rate = test_failure_rate
        self.seed = seed

    def __repr__(self) -> str:
        return (
            f"ScriptedBehavior(base_seconds={self.base_seconds:g}, "
            f"per_step_seconds={self.per_step_seconds:g}, seed={self.seed})"
        )

    def duration(self, ctx: RunContext, steps: int) -> float:
        """Simulated seconds for a segment of ``steps`` steps."""
        spread = (2 * _unit(self.seed, "duration", ctx.prompt, ctx.segment) - 1) * self.jitter
        return round((self.base_seconds + self.per_step_seconds * steps) * (1 + spread), 3)

    def plan(self, ctx: RunContext) -> Outcome:
        kind = agent_kind(run_role(ctx))
        if kind == "testing":
            steps, status, result, summary, prs = self._testing(ctx)
        elif kind == "docs":
            steps, status, result, summary, prs = self._docs(ctx)
        else:
            steps, status, result, summary, prs = self._coding(ctx)
        return Outcome(
            status=status,
            result=with_schema_answer(ctx.prompts, result),  # a typed result, when asked
            summary=summary,
            steps=steps,
            pull_requests=prs,
            duration=self.duration(ctx, len(steps)),
        )

    def test_report(self, ctx: RunContext) -> tuple[bool, str]:
        """Return ``(passed, report)`` for a testing run."""
        task = run_task(ctx)
        total = 8 + _digest(self.seed, "count", task) % 20
        failing = _unit(self.seed, "fail", task, ctx.segment) < self.test_failure_rate
        if not failing:
            return True, f"Test report: {total} passed, 0 failed. All {total} tests passed."
        n_fail = 1 + _digest(self.seed, "nfail", task, ctx.segment) % 3
        module = task_slug(task, 2).replace("-", "_")
        names = [f"tests/test_{module}.py::test_case_{i + 1}" for i in range(n_fail)]
        lines = "\n".join(f"FAILED {n}" for n in names)
        return False, f"Test report: {total - n_fail} passed, {n_fail} failed.\n{lines}"

    def _testing(self, ctx: RunContext) -> _Plan:
        passed, report = self.test_report(ctx)
        steps = (
            Step("PLAN_EVALUATION", thought=f"Plan: test {task_title(run_task(ctx))}"),
            _action(
                "Running the tests.",
                "run_command",
                {"command": "pytest -q"},
                {"exit_code": 0 if passed else 1, "stdout": report},
            ),
        )
        summary = "All tests passed." if passed else "Some tests failed; see the report."
        return steps, "COMPLETE", report, summary, ()

    def _coding(self, ctx: RunContext) -> _Plan:
        task = run_task(ctx)
        title, slug = task_title(task), task_slug(task)
        branch = f"codegen-bot/{slug}-{ctx.run_id}"
        path = f"src/{slug.replace('-', '_')[:40]}.py"
        if ctx.is_resume:
            feedback = run_feedback(ctx)
            steps = (
                *_revision(feedback, "Updating the change.", path, 1 + len(feedback) % 20),
                _action(
                    "Pushing to the same pull request.",
                    "git_push",
                    {"branch": branch},
                    {"status": "pushed"},
                ),
            )
            result = (
                f"Pushed an update to the pull request on branch {branch}, "
                f"addressing the feedback: {feedback}"
            )
            return steps, "COMPLETE", result, f"Implemented: {title} (revised)", ()
        steps = (
            Step("PLAN_EVALUATION", thought=f"Plan: {title}"),
            _action(
                "Reading the relevant code.",
                "view_file",
                {"path": path},
                {"content": "# existing code\n"},
            ),
            _action(
                "Making the change.",
                "edit_file",
                {"path": path, "instructions": _one_line(task, 200)},
                {"status": "edited", "lines_changed": 3 + len(slug) % 40},
            ),
            _action(
                "Opening a pull request.",
                "create_pr",
                {"title": title, "head": branch},
                {"status": "created"},
            ),
        )
        pr = PullRequestSpec(title=title, head_branch_name=branch)
        result = f"Opened a pull request on branch {branch}: {title}"
        return steps, "COMPLETE", result, f"Implemented: {title}", (pr,)

    def _docs(self, ctx: RunContext) -> _Plan:
        task = run_task(ctx)
        title, slug = task_title(task), task_slug(task)
        branch = f"codegen-bot/docs-{slug}-{ctx.run_id}"
        doc = f"docs/{slug}.md"
        if ctx.is_resume:
            feedback = run_feedback(ctx)
            steps = _revision(feedback, "Revising the documentation.", doc, None)
            result = f"Updated {doc} on branch {branch}, addressing the feedback: {feedback}"
            return steps, "COMPLETE", result, f"Documented: {title} (revised)", ()
        steps = (
            Step("PLAN_EVALUATION", thought=f"Plan: document {title}"),
            _action(
                "Writing the documentation.", "create_file", {"path": doc}, {"status": "created"}
            ),
        )
        pr = PullRequestSpec(title=f"Docs: {title}", head_branch_name=branch)
        result = f"Wrote {doc} and opened a pull request on branch {branch}."
        return steps, "COMPLETE", result, f"Documented: {title}", (pr,)


def _action(thought: str, tool: str, tool_input: dict[str, Any], output: dict[str, Any]) -> Step:
    """One tool call of a scripted plan."""
    return Step(
        "ACTION", thought=thought, tool_name=tool, tool_input=tool_input, tool_output=output
    )


def _revision(feedback: str, thought: str, path: str, lines: int | None) -> tuple[Step, ...]:
    """How a resumed coding or docs run starts: plan to address the feedback, then edit."""
    output: dict[str, Any] = {"status": "edited"}
    if lines is not None:
        output["lines_changed"] = lines
    return (
        Step("PLAN_EVALUATION", thought=f"Plan: address the feedback: {feedback}"),
        _action(thought, "edit_file", {"path": path, "instructions": feedback}, output),
    )


class ChatModelBehavior:
    """Runs a LangChain chat model as the agent: the run's ``result`` is the model's answer.

    The conversation holds every earlier prompt and answer of the run, so a resume continues
    it. A model that raises ends the run with status ``ERROR`` and the error text as result.

    Args:
        model: any ``langchain_core`` ``BaseChatModel`` (anything with ``invoke(messages)``).
        system_prompt: an optional system message put first.
        duration: simulated seconds a segment takes.
    """

    def __init__(
        self, model: Any, *, system_prompt: str | None = None, duration: float = 30.0
    ) -> None:
        if not callable(getattr(model, "invoke", None)):
            raise TypeError("ChatModelBehavior(model) needs a LangChain chat model with .invoke()")
        self.model = model
        self.system_prompt = system_prompt
        self.duration = duration

    def __repr__(self) -> str:
        return f"ChatModelBehavior(model={type(self.model).__name__})"

    def _messages(self, ctx: RunContext) -> list[Any]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        messages: list[Any] = []
        if self.system_prompt:
            messages.append(SystemMessage(self.system_prompt))
        for i, prompt in enumerate(ctx.prompts):
            messages.append(HumanMessage(prompt))
            if i < len(ctx.results):
                messages.append(AIMessage(ctx.results[i]))
        return messages

    def plan(self, ctx: RunContext) -> Outcome:
        plan_step = Step("PLAN_EVALUATION", thought="Asking the model.")
        try:
            reply = self.model.invoke(self._messages(ctx))
        except Exception as exc:  # the user's model failing is the run failing
            text = f"{type(exc).__name__}: {exc}"
            return Outcome(status="ERROR", result=text, steps=(plan_step,), duration=self.duration)
        answer = _content_text(getattr(reply, "content", reply))
        call = Step(
            "ACTION",
            thought="Model answered.",
            tool_name="chat_model",
            tool_input={"prompt": ctx.prompt},
            tool_output={"content": answer},
        )
        return Outcome(
            status="COMPLETE",
            result=answer,
            summary=answer.strip().splitlines()[0][:200] if answer.strip() else "",
            steps=(plan_step, call),
            duration=self.duration,
        )


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "".join(parts)
    return str(content)
