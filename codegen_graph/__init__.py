"""codegen-graph: Codegen's cloud coding agents as first-class citizens of LangGraph.

The public surface is re-exported here; everything in a module whose name starts with an
underscore is private. The rest lives in public modules and subpackages: clocks in
:mod:`codegen_graph.clock`, batch results in :mod:`codegen_graph.resources`, wire models in
:mod:`codegen_graph.models`, then ``tools``, ``graph``, ``plugins``, ``observability``,
``local``. The client's machinery (its watcher, circuit breaker and rate limiter) is reached
through ``client.watcher``, ``client.circuit`` and ``client.rate_budgets``.
"""

from __future__ import annotations

from ._client import AsyncCodegenClient, CodegenClient
from ._config import (
    DEFAULT_BASE_URL,
    CircuitBreakerConfig,
    RateBudget,
    RateBudgets,
    RetryConfig,
    TokenProvider,
)
from ._coordination import Coordination
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
from ._runs import AgentRun, AsyncAgentRun
from ._status import AgentRunStatus
from ._version import __version__
from .resources import IDEMPOTENCY_METADATA_KEY

__all__ = [
    "DEFAULT_BASE_URL",
    "IDEMPOTENCY_METADATA_KEY",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
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
