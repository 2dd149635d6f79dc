"""Prebuilt workflows: code, test and docs agents coordinating in one ``StateGraph``.

``feature_workflow`` (uncompiled; you choose the checkpointer)::

    START -> code -> code_wait -> tests -> tests_wait --> gate --> approval --> report -> END
                              \\-> docs  -> docs_wait  -/    |         |
                                                            v         v (reject + feedback)
                                                           fix -> code_wait (then tests again)

* The code agent implements the task; the tests and docs agents then run **in parallel** on
  its result.
* ``gate`` (a deferred node: it runs once both branches are done) reads the tests agent's
  report. On failures it resumes the code agent's run with the report (``fix``), then runs
  the tests again, up to ``max_iterations`` code iterations.
* With ``require_approval=True``, ``approval`` pauses the graph with ``interrupt()``; resume it
  with ``Command(resume=True)`` to approve, or ``Command(resume={"approve": False,
  "feedback": "..."})`` to send the feedback to the code agent and go round again. A
  rejection always comes back to the reviewer (after the fix and the tests) or, with no
  iteration left, ends the thread ``rejected``.
* The options (``max_iterations``, ``require_approval``, ``repo_id``) belong to the thread:
  the builder's arguments are the defaults, the first run's ``context`` (a
  :class:`FeatureOptions`) may override them, and ``start`` checkpoints the result in
  ``state["options"]``. A later run of the thread (a resume) never changes them.
* ``report`` writes a final report into the state: PR links, summaries, run links, per-agent
  timings, iterations.

Every launch is exactly-once (see :mod:`codegen_graph.graph._nodes`); ``fix`` resumes a run
at most once per iteration even if it is re-executed after a crash (its follow-up is known
by its own marker in the run's log).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import RetryPolicy, TimeoutPolicy, interrupt
from pydantic import Field
from typing_extensions import TypedDict

from .. import AsyncCodegenClient, CodegenClient
from .._exceptions import ConfigurationError
from .._status import AgentRunStatus
from ..models import AgentRunResponse
from ..plugins import Plugin, PromptGuard
from ._launch import PromptSpec, ResumePlan, recorded_run, render_prompt, run_record
from ._nodes import codegen_node, codegen_wait_node, resume_node
from ._observe import OutputFilters, StoreNamespace
from ._records import all_pr_urls, feature_report
from ._retry import codegen_retry_policy
from ._state import GraphState, RunRecord

__all__ = [
    "DEFAULT_PROMPTS",
    "TASK_METADATA_KEY",
    "FeatureInput",
    "FeatureOptions",
    "FeatureState",
    "feature_workflow",
    "tests_failed",
]

#: The run metadata key holding the workflow's task, apart from the role's instructions in
#: the prompt (the local backend names branches, files and PRs after it).
TASK_METADATA_KEY = "codegen_graph_task"
_TASK_METADATA_CHARS = 2000


# The fields' descriptions are Field metadata, not attribute docstrings: pydantic reads those
# by parsing the module's source at schema time, which needs the source file and, on CPython
# 3.11.7 (our CI's), failed once with "AST constructor recursion depth mismatch" under load
# while other threads ran (a known 3.11 failure of ast.parse: python/cpython#106905).
class FeatureInput(TypedDict):
    """What a user gives the feature workflow (its input schema, Studio's input form)."""

    task: Annotated[
        str,
        Field(
            description='The feature to build, in plain words: "Add a /health endpoint that '
            'returns the service version".'
        ),
    ]


class FeatureOptions(TypedDict, total=False):
    """Options of a feature workflow thread, given as the first run's context.

    In Python: graph.invoke({"task": ...}, config, context={"require_approval": True}); in
    LangGraph Studio: the context form. They are read once, when the thread starts, and
    checkpointed with it; a key left out takes the value given to feature_workflow().
    """

    max_iterations: Annotated[
        int, Field(description="Code iterations at most, the first implementation included.")
    ]
    require_approval: Annotated[
        bool, Field(description="Pause for a human decision before the report.")
    ]
    repo_id: Annotated[
        int | None,
        Field(
            description="The Codegen repository id the agents work in "
            "(default: the organization's)."
        ),
    ]


class FeatureState(GraphState, total=False):
    """:class:`GraphState` plus what the feature workflow's gate and approval need."""

    options: FeatureOptions
    """The thread's options, resolved and checkpointed by ``start``."""

    feedback: str | None
    """The text the next ``fix`` sends to the code agent (test failures or a reviewer's)."""
    feedback_source: str | None
    verdict: str | None
    """``passed``, ``tests_failed`` (iterations exhausted), ``approved`` or ``rejected``."""


DEFAULT_PROMPTS: dict[str, str] = {
    "code": (
        "Implement the following feature and open a pull request with the change.\n\n"
        "Feature:\n{task}"
    ),
    "tests": (
        "You are the testing agent. Write and run tests for the feature below, as implemented "
        "by the coding agent ({code_ref}). Report the outcome: say 'TESTS PASSED', or "
        "'TESTS FAILED' followed by each failing test and why.\n\nFeature:\n{task}"
    ),
    "docs": (
        "You are the documentation agent. Write the user documentation for the feature "
        "below, as implemented by the coding agent ({code_ref}).\n\nFeature:\n{task}"
    ),
    "fix": (
        "Feedback from the {feedback_source}. Update your change so that it addresses all "
        "of it, and push to the same pull request.\n\n{feedback}"
    ),
}

_SAYS_FAILED = re.compile(r"(?<!NO )\bTESTS?\s+FAIL(?:ED|S)?\b")
_SAYS_PASSED = re.compile(r"\bTESTS?\s+PASS(?:ED|ES)?\b")
_COUNTS_FAILED = re.compile(r"\b[1-9]\d*\s+(?:TESTS?\s+)?FAIL(?:ED|URES?)\b")


def tests_failed(record: Mapping[str, Any] | None) -> bool:
    """Whether a tests agent's run reports failures (the default gate predicate).

    A run that ended badly counts as failed; otherwise its result is read for
    ``TESTS FAILED`` / ``N failed`` versus ``TESTS PASSED``.
    """
    if not record:
        return True
    status = record.get("status")
    if status and AgentRunStatus(status).is_failure:
        return True
    text = (record.get("result") or "").upper()
    if _SAYS_FAILED.search(text):
        return True
    if _SAYS_PASSED.search(text):
        return False
    return bool(_COUNTS_FAILED.search(text)) or "PASSED" not in text


def _code_ref(state: Mapping[str, Any]) -> str:
    code = (state.get("runs") or {}).get("code") or {}
    refs = list(code.get("pr_urls") or []) or [code.get("web_url") or "its latest change"]
    return ", ".join(str(r) for r in refs)


def _prompt(prompts: Mapping[str, PromptSpec], name: str) -> Callable[[Mapping[str, Any]], str]:
    spec = prompts[name]

    def build(state: Mapping[str, Any]) -> str:
        return render_prompt(spec, {**state, "code_ref": _code_ref(state)})

    return build


def feature_workflow(
    *,
    client: CodegenClient | AsyncCodegenClient,
    max_iterations: int = 3,
    require_approval: bool = False,
    repo_id: int | None = None,
    prompts: Mapping[str, PromptSpec] | None = None,
    timeout: float | None = None,
    retry_policy: RetryPolicy | None = None,
    is_failure: Callable[[Mapping[str, Any] | None], bool] = tests_failed,
    prompt_guard: PromptGuard | None = None,
    output_filter: Plugin | None = None,
    store_namespace: StoreNamespace | None = None,
    timeout_policy: TimeoutPolicy | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """The code -> (tests || docs) -> gate -> [fix loop] -> [approval] -> report workflow.

    Args:
        client: the client every agent uses (sync -> sync nodes, async -> async nodes).
        max_iterations: code iterations at most (the first implementation counts as one).
        require_approval: pause for a human decision with ``interrupt()`` before the report.
        repo_id: the repository the agents work in.
        prompts: overrides for ``DEFAULT_PROMPTS`` (templates over the state; the tests and
            docs prompts may use ``{code_ref}``, the code agent's PR links).
        timeout: clock seconds each agent may take.
        retry_policy: the nodes' retry policy (default :func:`codegen_retry_policy`).
        is_failure: reads the tests agent's run record; ``True`` sends the report back.
        prompt_guard: screens the feedback (the tests agent's report, or the reviewer's
            text) before ``fix`` puts it into the code agent's resume prompt; in ``block``
            mode a match raises ``PromptInjectionError`` before the resume. (A guard among
            the client's plugins screens the whole resume prompt, which ``fix`` sends marked
            ``untrusted`` with ``source="agent:tests"`` or ``"reviewer"``.)
        output_filter: cleans every agent's result, summary and log entries before they
            enter state, messages, stream events or traces (e.g. ``OutputFilter()``).
        store_namespace: shared context in the graph's ``BaseStore``: each agent's prompt
            gets the items under it, and each finished agent writes its result there under
            its role (compile with ``store=``; see ``docs/graph.md``).
        timeout_policy: LangGraph's ``TimeoutPolicy`` for the three wait nodes (async
            client only: LangGraph times out coroutine nodes alone). The waits heartbeat
            on every watcher tick, so ``idle_timeout`` holds however long an agent works; a
            ``run_timeout`` that fires is retried by ``retry_policy`` and re-attaches to the
            same run (see "Liveness" in ``docs/graph.md``).

    Returns:
        An uncompiled ``StateGraph[FeatureState]``: compile it with your checkpointer
        (``interrupt()`` needs one).
    """
    if max_iterations < 1:
        raise ValueError("max_iterations must be >= 1")
    merged: dict[str, PromptSpec] = {**DEFAULT_PROMPTS, **(prompts or {})}
    policy = retry_policy or codegen_retry_policy()
    if timeout_policy is not None and not isinstance(client, AsyncCodegenClient):
        raise ConfigurationError(
            "timeout_policy= needs async nodes: build the workflow with an AsyncCodegenClient "
            "(LangGraph refuses a TimeoutPolicy on sync nodes)"
        )

    defaults: FeatureOptions = {
        "max_iterations": max_iterations,
        "require_approval": require_approval,
        "repo_id": repo_id,
    }

    def option(state: Mapping[str, Any], name: str) -> Any:
        return {**defaults, **(state.get("options") or {})}.get(name)

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(
        FeatureState, context_schema=FeatureOptions, input_schema=FeatureInput
    )
    for role in ("code", "tests", "docs"):
        builder.add_node(
            role,
            codegen_node(
                role,
                _prompt(merged, role),
                client=client,
                repo_id=lambda state: option(state, "repo_id"),
                metadata=_task_metadata,
                wait=False,
                store_namespace=store_namespace,
                output_filter=output_filter,
            ),
            retry_policy=policy,
        )
        builder.add_node(
            f"{role}_wait",
            codegen_wait_node(
                role,
                client=client,
                timeout=timeout,
                store_namespace=store_namespace,
                output_filter=output_filter,
            ),
            retry_policy=policy,
            timeout=timeout_policy,
        )
        builder.add_edge(role, f"{role}_wait")

    def start(state: FeatureState, runtime: Runtime[FeatureOptions]) -> dict[str, Any]:
        task = state.get("task")
        if not task or not str(task).strip():
            raise ConfigurationError("feature_workflow needs a non-empty 'task' in its input")
        options = _resolve_options(defaults, runtime.context)
        return {
            "messages": [HumanMessage(content=str(task), id="codegen-graph-task")],
            "options": options,
        }

    def after_code(state: FeatureState) -> list[str]:
        # The docs agent documents the first implementation; later iterations only re-test.
        return ["tests", "docs"] if _iter(state, "code") == 1 else ["tests"]

    def gate(state: FeatureState) -> dict[str, Any]:
        tests = (state.get("runs") or {}).get("tests")
        if not is_failure(tests):
            return {"feedback": None, "verdict": "passed"}
        if _iter(state, "code") >= option(state, "max_iterations"):
            return {"feedback": None, "verdict": "tests_failed"}
        report = (tests or {}).get("result") or "The tests agent reported failures."
        return {"feedback": report, "feedback_source": "tests agent", "verdict": None}

    def after_gate(state: FeatureState) -> Literal["fix", "approval", "report"]:
        if state.get("feedback"):
            return "fix"
        return "approval" if option(state, "require_approval") else "report"

    def approval(state: FeatureState) -> dict[str, Any]:
        decision = interrupt(
            {
                "question": "Approve the change?",
                "verdict": state.get("verdict"),
                "pr_urls": _all_prs(state),
                "summaries": {r: (v or {}).get("summary") for r, v in _runs(state).items()},
                "answer_with": "True to approve, or {'approve': False, 'feedback': '...'}",
            }
        )
        approved, feedback = _parse_decision(decision)
        if approved:
            return {"verdict": "approved", "feedback": None}
        if _iter(state, "code") >= option(state, "max_iterations"):
            # No iteration left to act on the feedback: the thread ends rejected.
            return {"verdict": "rejected", "feedback": None}
        return {"verdict": "rejected", "feedback": feedback, "feedback_source": "reviewer"}

    def after_approval(state: FeatureState) -> Literal["fix", "report"]:
        return "fix" if state.get("verdict") == "rejected" and state.get("feedback") else "report"

    builder.add_node("start", start)
    builder.add_node("gate", gate, defer=True)
    builder.add_node("approval", approval)
    builder.add_node(
        "fix", _fix_node(client, merged, prompt_guard, output_filter), retry_policy=policy
    )
    builder.add_node("report", feature_report)
    builder.add_edge(START, "start")
    builder.add_edge("start", "code")
    builder.add_conditional_edges("code_wait", after_code, ["tests", "docs"])
    builder.add_edge("tests_wait", "gate")
    builder.add_edge("docs_wait", "gate")
    builder.add_conditional_edges("gate", after_gate, ["fix", "approval", "report"])
    builder.add_conditional_edges("approval", after_approval, ["fix", "report"])
    builder.add_edge("fix", "code_wait")
    builder.add_edge("report", END)
    return builder


def _task_metadata(state: Mapping[str, Any]) -> dict[str, Any]:
    return {TASK_METADATA_KEY: str(state.get("task") or "")[:_TASK_METADATA_CHARS]}


def _resolve_options(defaults: FeatureOptions, context: Any) -> FeatureOptions:
    """The thread's options: ``defaults`` overridden by the first run's context."""
    given: Mapping[str, Any] = context if isinstance(context, Mapping) else {}
    unknown = sorted(set(given) - set(FeatureOptions.__annotations__))
    if unknown:
        raise ConfigurationError(
            f"unknown feature_workflow option(s) in context: {', '.join(unknown)} "
            f"(known: {', '.join(FeatureOptions.__annotations__)})"
        )
    options: FeatureOptions = {**defaults}
    for name in ("max_iterations", "require_approval", "repo_id"):
        value = given.get(name)
        if value is not None:
            options[name] = _coerce_option(name, value)
    return options


def _coerce_option(name: str, value: Any) -> Any:
    if name == "require_approval":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
            return value.strip().lower() in {"true", "1"}
        raise ConfigurationError(f"context.require_approval must be true or false, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigurationError(f"context.{name} must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(f"context.{name} must be an integer, got {value!r}") from None
    if name == "max_iterations" and number < 1:
        raise ConfigurationError(f"context.max_iterations must be >= 1, got {number}")
    return number


def _iter(state: Mapping[str, Any], key: str) -> int:
    return int((state.get("iterations") or {}).get(key, 1))


def _runs(state: Mapping[str, Any]) -> dict[str, RunRecord]:
    return dict(state.get("runs") or {})


def _all_prs(state: Mapping[str, Any]) -> list[str]:
    return all_pr_urls(_runs(state))


def _parse_decision(decision: Any) -> tuple[bool, str | None]:
    if isinstance(decision, bool):
        return decision, None
    if isinstance(decision, str):
        if decision.strip().lower() in {"approve", "approved", "yes", "y", "ok", "lgtm"}:
            return True, None
        return False, decision
    if isinstance(decision, Mapping):
        approved = bool(decision.get("approve", decision.get("approved", False)))
        feedback = decision.get("feedback")
        return approved, (str(feedback) if feedback else None)
    raise TypeError(
        "resume the approval with True, 'approve', or {'approve': False, 'feedback': '...'}"
    )


def _feedback_source(state: Mapping[str, Any]) -> str:
    """The ``PluginContext.source`` of the feedback: ``agent:tests`` or ``reviewer``."""
    label = str(state.get("feedback_source") or "tests agent")
    return "reviewer" if label == "reviewer" else f"agent:{label.split()[0]}"


def _fix_node(
    client: CodegenClient | AsyncCodegenClient,
    prompts: Mapping[str, PromptSpec],
    guard: PromptGuard | None,
    output_filter: Plugin | None,
) -> Callable[..., Any]:
    """Resume the code agent's run with the feedback, at most once per iteration.

    The resume carries a key of the step (:func:`launch_key`): re-executed after a crash, a
    follow-up whose own marker is already in the run's log is not sent again. Nothing else
    counts as "sent": a run that someone else resumed meanwhile (a chat in Codegen's UI, an
    answer to a PR comment) still receives this feedback. The feedback is another agent's
    (or a person's) text: it goes through ``guard`` first, and the resume is sent marked
    untrusted so the client's guards screen it too.
    """

    def plan(state: FeatureState, config: RunnableConfig | None) -> ResumePlan:
        source = _feedback_source(state)
        feedback = str(state.get("feedback") or "")
        if guard is not None:
            feedback = guard.check(feedback, source=source)
        text = render_prompt(
            prompts["fix"], {**state, "feedback": feedback, "code_ref": _code_ref(state)}
        )
        run_id = recorded_run(state, "code")[1]
        return ResumePlan(
            "code", run_id, text, _fix_key(run_id, _iter(state, "code"), text), source
        )

    filters = OutputFilters(output_filter)

    def done(state: FeatureState, _plan: ResumePlan, current: AgentRunResponse) -> Any:
        record, iteration = _runs(state)["code"], _iter(state, "code")
        new = run_record(
            "code",
            "code",
            filters.run(current, "code"),
            iteration=iteration + 1,
            idempotency_key=record.get("idempotency_key"),
            started_at=record.get("created_at"),
        )
        return {
            "runs": {"code": new},
            "iterations": {"code": iteration + 1, "tests": _iter(state, "tests") + 1},
            "feedback": None,
        }

    return resume_node(client, plan, done)


def _fix_key(run_id: int, iteration: int, text: str) -> str:
    """The resume's key: one follow-up per code run, iteration and text, in or out of a
    graph (a re-run of the step from any checkpoint finds its marker and sends nothing)."""
    return f"fix-{run_id}-{iteration}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"
