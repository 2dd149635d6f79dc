"""codegen-graph: Codegen's cloud coding agents as first-class citizens of LangGraph.

The public surface is re-exported here; everything in a module whose name starts with an
underscore is private. The rest lives in public modules and subpackages: clocks in
:mod:`codegen_graph.clock`, batch results in :mod:`codegen_graph.resources`, wire models in
:mod:`codegen_graph.models`, then ``tools``, ``graph``, ``plugins``, ``observability``,
``local``. The client's machinery (its watcher, circuit breaker and rate limiter) is reached
through ``client.watcher``, ``client.circuit`` and ``client.rate_budgets``.
"""

from __future__ import annotations

import typing as _typing

from ._config import (
    DEFAULT_BASE_URL,
    AccessToken,
    CircuitBreakerConfig,
    RateBudget,
    RateBudgets,
    RetryConfig,
    TokenProvider,
)
from ._exceptions import (
    AgentRunFailedError,
    AgentRunLimitReachedError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ClientClosedError,
    CodegenError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    OutputValidationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    RunTimeoutError,
    ServerError,
    UnprocessableEntityError,
)
from ._output import OutputAttempt
from ._specs import IDEMPOTENCY_METADATA_KEY
from ._status import AgentRunStatus
from ._sync.client import CodegenClient
from ._sync.runs import AgentRun
from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._async.client import AsyncCodegenClient
    from ._async.runs import AsyncAgentRun
    from ._coordination import Coordination


def __getattr__(name: str) -> _typing.Any:
    # Loaded when first asked for: the async stack (most programs use one of the two
    # clients) and the Redis plug-in (`import codegen_graph` never loads it).
    if name == "AsyncCodegenClient":
        from ._async.client import AsyncCodegenClient

        return AsyncCodegenClient
    if name == "AsyncAgentRun":
        from ._async.runs import AsyncAgentRun

        return AsyncAgentRun
    if name == "Coordination":
        from ._coordination import Coordination

        return Coordination
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})  # the lazily loaded names too (completion, help)


__all__ = [
    "DEFAULT_BASE_URL",
    "IDEMPOTENCY_METADATA_KEY",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AccessToken",
    "AgentRun",
    "AgentRunFailedError",
    "AgentRunLimitReachedError",
    "AgentRunStatus",
    "AsyncAgentRun",
    "AsyncCodegenClient",
    "AuthenticationError",
    "BadRequestError",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "ClientClosedError",
    "CodegenClient",
    "CodegenError",
    "ConfigurationError",
    "ConflictError",
    "Coordination",
    "NotFoundError",
    "OutputAttempt",
    "OutputValidationError",
    "PermissionDeniedError",
    "RateBudget",
    "RateBudgets",
    "RateLimitError",
    "ResponseValidationError",
    "RetryConfig",
    "RunTimeoutError",
    "ServerError",
    "TokenProvider",
    "UnprocessableEntityError",
    "__version__",
]
