"""Who is calling: the role, actor and trust of the client calls made inside a block.

The client's plugin hooks and metrics need to know which node (role) made a call and
whether its prompt carries another agent's output. Threading that through every resource
method would bloat the client API, so it travels in a context variable instead:

    with call_context(role="code", untrusted=True, source="agent:tests"):
        client.agent_runs.resume(run_id, prompt)   # PromptGuard screens this prompt

Context variables follow ``asyncio`` tasks and LangGraph's worker threads (which copy the
context), so a log pump task started inside the block still sees it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallContext", "PluginContext", "call_context", "current_call_context"]


@dataclass(frozen=True)
class CallContext:
    """The caller's side of a :class:`~codegen_graph.plugins.PluginContext`.

    Attributes:
        role: The role of the node or tool making the calls.
        actor: Who asked for them (for audit trails).
        untrusted: Prompts sent in this block carry text from another agent.
        source: Where that text came from, e.g. ``"agent:tests"``.
        metadata: Anything else plugins should see.
    """

    role: str | None = None
    actor: str | None = None
    untrusted: bool = False
    source: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginContext:
    """What a hook knows about the operation it runs for.

    Attributes:
        action: ``"create"``, ``"resume"``, ``"wait"``, ... .
        role: The role of the node or tool making the call (``"code"``, ``"review"``...).
        org_id: The Codegen organization.
        agent_run_id: The run concerned, once known.
        actor: Who asked for it (a user name or service id), for audit trails.
        prompt: The prompt being sent (hidden from ``repr``).
        untrusted: The prompt carries text produced by another agent (or any outside
            source), so guards should screen it.
        source: Where untrusted text came from, e.g. ``"agent:tests"``.
        metadata: Anything else.
    """

    action: str = "create"
    role: str | None = None
    org_id: int | None = None
    agent_run_id: int | None = None
    actor: str | None = None
    prompt: str | None = field(default=None, repr=False)
    untrusted: bool = False
    source: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> PluginContext:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


_EMPTY = CallContext()
_current: ContextVar[CallContext] = ContextVar("codegen_graph_call_context", default=_EMPTY)


def current_call_context() -> CallContext:
    """The innermost :func:`call_context` in force (an empty one outside any)."""
    return _current.get()


@contextmanager
def call_context(
    *,
    role: str | None = None,
    actor: str | None = None,
    untrusted: bool | None = None,
    source: str | None = None,
    **metadata: Any,
) -> Iterator[CallContext]:
    """Tag the client calls made in this block (sync or async) with a role, actor, trust.

    Unset arguments inherit from an enclosing block; ``metadata`` is merged.

    Args:
        role: The role of the node or tool (``"code"``, ``"tests"``...): plugin contexts and
            metrics labels carry it.
        actor: Who asked for the calls, for the audit log.
        untrusted: Whether prompts in this block carry another agent's output (guards
            screen those).
        source: Where the untrusted text came from (``"agent:tests"``, ``"reviewer"``).
        **metadata: Extra fields for ``PluginContext.metadata``.

    Yields:
        The context now in force.
    """
    outer = _current.get()
    ctx = CallContext(
        role=role if role is not None else outer.role,
        actor=actor if actor is not None else outer.actor,
        untrusted=untrusted if untrusted is not None else outer.untrusted,
        source=source if source is not None else outer.source,
        metadata={**outer.metadata, **metadata},
    )
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
