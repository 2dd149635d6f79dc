"""codegen-graph: Codegen's cloud coding agents as first-class citizens of LangGraph.

The public surface is re-exported here; everything in a module whose name starts with an
underscore is private.
"""

from __future__ import annotations

from ._batch import BatchItem, BatchProgress
from ._circuit import CircuitBreaker
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
from ._ratelimit import RateLimiter
from ._runs import AgentRun, AsyncAgentRun
from ._status import AgentRunStatus
from ._version import __version__
from ._watcher import AsyncRunWatcher, RunWatcher, WatcherStats
from .clock import Clock, ManualClock, ScaledClock, SystemClock
from .resources import IDEMPOTENCY_METADATA_KEY

# Plain sorted() order, which tests/test_public_surface.py checks (not ruff's isort style).
__all__ = [  # noqa: RUF022
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
    "AsyncRunWatcher",
    "AuthenticationError",
    "BadRequestError",
    "BatchItem",
    "BatchProgress",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "Clock",
    "CodegenClient",
    "CodegenError",
    "ConfigurationError",
    "ConflictError",
    "Coordination",
    "DEFAULT_BASE_URL",
    "IDEMPOTENCY_METADATA_KEY",
    "ManualClock",
    "NotFoundError",
    "OutputAttempt",
    "OutputValidationError",
    "PermissionDeniedError",
    "RateBudget",
    "RateBudgets",
    "RateLimitError",
    "RateLimiter",
    "ResponseValidationError",
    "RetryConfig",
    "RunTimeoutError",
    "RunWatcher",
    "ScaledClock",
    "ServerError",
    "SystemClock",
    "TokenProvider",
    "UnprocessableEntityError",
    "WatcherStats",
    "__version__",
]
