"""The embedded local Codegen backend: a spec-faithful Codegen API that runs offline.

Use it in process (``LocalCodegen(...).client()``, no sockets) or as a real server
(``codegen-graph serve``). See ``docs/local-backend.md``.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "codegen_graph.local needs FastAPI and uvicorn: install the local extra "
        "(from a checkout: pip install '.[local]')"
    ) from exc

from ._app import MAX_PROMPT_CHARS
from ._backend import LocalCodegen
from ._behavior import (
    AgentBehavior,
    ChatModelBehavior,
    Outcome,
    PullRequestSpec,
    RunContext,
    ScriptedBehavior,
    Step,
)
from ._limits import Faults, RateLimit, RateLimits, RouteFaults
from ._process import LocalServer, free_loopback_port
from ._scenario import Scenario, ScenarioBehavior, ScenarioError, bundled_scenarios, load_scenario
from ._server import serve
from ._transport import LocalAsyncTransport, LocalTransport

__all__ = [
    "MAX_PROMPT_CHARS",
    "AgentBehavior",
    "ChatModelBehavior",
    "Faults",
    "LocalAsyncTransport",
    "LocalCodegen",
    "LocalServer",
    "LocalTransport",
    "Outcome",
    "PullRequestSpec",
    "RateLimit",
    "RateLimits",
    "RouteFaults",
    "RunContext",
    "Scenario",
    "ScenarioBehavior",
    "ScenarioError",
    "ScriptedBehavior",
    "Step",
    "bundled_scenarios",
    "free_loopback_port",
    "load_scenario",
    "serve",
]
