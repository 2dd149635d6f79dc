"""Scenario files: script run outcomes per prompt pattern and attempt number.

A scenario is a JSON or YAML document::

    name: tests fail once, pass after the fix
    fallback: scripted          # unmatched prompts: "scripted" (default) or "error"
    rules:
      - role: tests                  # the run's role (metadata codegen_graph_role; no role
                                     # is "code"); a list of roles, or leave it out: any
        match: "(?i)health"          # regex searched in the run's task (default: any)
        count: pattern               # attempts counted across all matching runs ("pattern")
                                     # or per run ("run"); creates and resumes both count
        attempts:                    # attempt 1, 2, ...; the last one repeats
          - status: FAILED
            result: "1 failed: tests/test_api.py::test_health"
          - status: COMPLETE
            result: "All 12 tests passed."

A rule applies to a run when its ``role`` (a name or a list; default: any) names the run's
role and its ``match`` is found in the run's task (``metadata["codegen_graph_task"]`` when
the client sent it, else the create prompt). Each attempt may set ``status`` (default
``COMPLETE``), ``result``, ``summary``, ``duration`` (simulated seconds), ``steps``
(``message_type``, ``thought``, ``tool_name``, ``tool_input``, ``tool_output``,
``observation``) and ``pull_requests`` (``title``, ``head_branch_name``). Whatever an
attempt leaves out comes from :class:`ScriptedBehavior` for the same run. In ``result``
and ``summary``, ``{attempt}``, ``{run_id}``, ``{task}`` (the task's first line),
``{slug}`` (the task as an identifier, e.g. ``add_health_endpoint``), ``{feedback}`` (a
resume's request, on one line) and ``{prompt}`` (this segment's whole prompt) are
replaced. The first rule that applies wins.

Bundled scenarios live in ``codegen_graph/local/scenarios/`` and load by name
(``load_scenario("tests_fail_once")``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ._behavior import (
    TERMINAL_STATUSES,
    AgentBehavior,
    Outcome,
    PullRequestSpec,
    RunContext,
    ScriptedBehavior,
    Step,
    run_feedback,
    run_role,
    run_task,
    task_slug,
    task_title,
)

__all__ = ["Scenario", "ScenarioBehavior", "ScenarioError", "load_scenario"]

_ATTEMPT_KEYS = {"status", "result", "summary", "duration", "steps", "pull_requests"}
_STEP_KEYS = {"message_type", "thought", "tool_name", "tool_input", "tool_output", "observation"}


class ScenarioError(ValueError):
    """A scenario document is malformed; the message says where and how to fix it."""


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    roles: frozenset[str] | None
    count: str
    attempts: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario document (see the module docstring for the format)."""

    name: str
    rules: tuple[_Rule, ...] = field(default=())
    fallback: str = "scripted"

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Scenario:
        """Validate and parse a scenario document.

        Raises:
            ScenarioError: the document does not follow the format.
        """
        if not isinstance(doc, Mapping):
            raise ScenarioError("a scenario must be a mapping with a 'rules' list")
        unknown = set(doc) - {"name", "rules", "fallback", "description"}
        if unknown:
            raise ScenarioError(f"unknown scenario keys: {sorted(unknown)}")
        fallback = doc.get("fallback", "scripted")
        if fallback not in ("scripted", "error"):
            raise ScenarioError("scenario 'fallback' must be 'scripted' or 'error'")
        raw_rules = doc.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            raise ScenarioError("scenario 'rules' must be a non-empty list")
        rules = tuple(_parse_rule(i, r) for i, r in enumerate(raw_rules))
        return cls(name=str(doc.get("name", "scenario")), rules=rules, fallback=fallback)


def _parse_rule(index: int, raw: Any) -> _Rule:
    where = f"rules[{index}]"
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where} must be a mapping")
    unknown = set(raw) - {"match", "role", "count", "attempts"}
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        pattern = re.compile(str(raw.get("match", ".*")))
    except re.error as exc:
        raise ScenarioError(f"{where}.match is not a valid regex: {exc}") from exc
    roles = _parse_roles(where, raw.get("role"))
    count = raw.get("count", "pattern")
    if count not in ("pattern", "run"):
        raise ScenarioError(f"{where}.count must be 'pattern' or 'run'")
    attempts = raw.get("attempts")
    if not isinstance(attempts, list) or not attempts:
        raise ScenarioError(f"{where}.attempts must be a non-empty list")
    for j, attempt in enumerate(attempts):
        _check_attempt(f"{where}.attempts[{j}]", attempt)
    return _Rule(pattern=pattern, roles=roles, count=count, attempts=tuple(attempts))


def _parse_roles(where: str, raw: Any) -> frozenset[str] | None:
    if raw is None:
        return None
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ScenarioError(f"{where}.role must be a role name or a list of role names")
    return frozenset(n.strip() for n in names)


def _check_attempt(where: str, attempt: Any) -> None:
    if not isinstance(attempt, Mapping):
        raise ScenarioError(f"{where} must be a mapping")
    unknown = set(attempt) - _ATTEMPT_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
    status = attempt.get("status", "COMPLETE")
    if status not in TERMINAL_STATUSES:
        raise ScenarioError(f"{where}.status must be one of {', '.join(TERMINAL_STATUSES)}")
    duration = attempt.get("duration", 0)
    if not isinstance(duration, (int, float)) or duration < 0:
        raise ScenarioError(f"{where}.duration must be a number >= 0")
    for k, step in enumerate(attempt.get("steps", []) or []):
        if not isinstance(step, Mapping) or "message_type" not in step:
            raise ScenarioError(f"{where}.steps[{k}] must be a mapping with a message_type")
        if set(step) - _STEP_KEYS:
            raise ScenarioError(
                f"{where}.steps[{k}]: unknown keys {sorted(set(step) - _STEP_KEYS)}"
            )
    for k, pr in enumerate(attempt.get("pull_requests", []) or []):
        if not isinstance(pr, Mapping) or not {"title", "head_branch_name"} <= set(pr):
            raise ScenarioError(f"{where}.pull_requests[{k}] needs title and head_branch_name")


def load_scenario(source: str | Path | Mapping[str, Any] | Scenario) -> Scenario:
    """Load a scenario from a file (``.json``, ``.yaml``/``.yml``), a bundled name or a dict.

    Raises:
        ScenarioError: the file is missing or malformed.
    """
    if isinstance(source, Scenario):
        return source
    if isinstance(source, Mapping):
        return Scenario.from_dict(source)
    path = Path(source)
    if path.exists():
        text, suffix = path.read_text(encoding="utf-8"), path.suffix.lower()
    else:
        bundled = _bundled(str(source))
        if bundled is None:
            raise ScenarioError(
                f"scenario {str(source)!r} is neither a file nor a bundled scenario "
                f"(bundled: {', '.join(bundled_scenarios())})"
            )
        text, suffix = bundled
    return Scenario.from_dict(_parse_text(text, suffix))


def bundled_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``codegen_graph/local/scenarios/``."""
    root = resources.files("codegen_graph.local") / "scenarios"
    return sorted(p.name.rsplit(".", 1)[0] for p in root.iterdir() if not p.name.startswith("_"))


def _bundled(name: str) -> tuple[str, str] | None:
    root = resources.files("codegen_graph.local") / "scenarios"
    for suffix in (".yaml", ".yml", ".json"):
        candidate = root / f"{name}{suffix}"
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8"), suffix
    return None


def _parse_text(text: str, suffix: str) -> Any:
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - pyyaml is in the [local] extra
            raise ScenarioError(
                "YAML scenarios need PyYAML: install the local extra "
                "(from a checkout: pip install '.[local]')"
            ) from exc
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScenarioError(f"scenario is not valid YAML: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"scenario is not valid JSON: {exc}") from exc


class ScenarioBehavior:
    """Plays a :class:`Scenario`; prompts no rule matches fall back to ``fallback``.

    Args:
        scenario: a scenario, a path, a bundled name or a dict.
        fallback: the behaviour used for unmatched prompts and for fields an attempt leaves
            out (default: :class:`ScriptedBehavior`).
    """

    def __init__(
        self,
        scenario: str | Path | Mapping[str, Any] | Scenario,
        *,
        fallback: AgentBehavior | None = None,
    ) -> None:
        self.scenario = load_scenario(scenario)
        self.fallback: AgentBehavior = fallback or ScriptedBehavior()

    def __repr__(self) -> str:
        return f"ScenarioBehavior({self.scenario.name!r})"

    def plan(self, ctx: RunContext) -> Outcome:
        base = self.fallback.plan(ctx)
        role, task = run_role(ctx), run_task(ctx)
        for index, rule in enumerate(self.scenario.rules):
            if rule.roles is not None and role not in rule.roles:
                continue
            if rule.pattern.search(task):
                key = f"scenario:{self.scenario.name}:{index}"
                if rule.count == "run":
                    key += f":run:{ctx.run_id}"
                attempt = ctx.counter(key)
                spec = rule.attempts[min(attempt, len(rule.attempts)) - 1]
                return _apply(base, spec, ctx, attempt)
        if self.scenario.fallback == "error":
            return replace(
                base,
                status="ERROR",
                result="No scenario rule matched this prompt.",
                pull_requests=(),
            )
        return base


def _apply(base: Outcome, spec: Mapping[str, Any], ctx: RunContext, attempt: int) -> Outcome:
    task = run_task(ctx)
    values = {
        "{attempt}": str(attempt),
        "{run_id}": str(ctx.run_id),
        "{task}": task_title(task),
        "{slug}": task_slug(task).replace("-", "_"),
        "{feedback}": run_feedback(ctx) if ctx.is_resume else "",
        "{prompt}": ctx.prompt,
    }
    pattern = re.compile("|".join(re.escape(k) for k in values))

    def fill(text: str) -> str:
        # One pass, so a placeholder inside a substituted value (a task that says
        # "{attempt}") stays as written.
        return pattern.sub(lambda m: values[m.group(0)], text)

    status = str(spec.get("status", "COMPLETE"))
    steps = base.steps
    if "steps" in spec:
        steps = tuple(Step(**dict(s)) for s in spec["steps"] or [])
    prs = base.pull_requests
    if "pull_requests" in spec:
        prs = tuple(PullRequestSpec(**dict(p)) for p in spec["pull_requests"] or [])
    return Outcome(
        status=status,
        result=fill(str(spec["result"])) if "result" in spec else base.result,
        summary=fill(str(spec["summary"])) if "summary" in spec else base.summary,
        steps=steps,
        pull_requests=prs if status == "COMPLETE" else (),
        duration=float(spec.get("duration", base.duration)),
    )
