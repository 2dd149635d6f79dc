"""codegen-graph: Codegen's cloud coding agents as first-class citizens of LangGraph.

The public surface is re-exported here; everything in a module whose name starts with an
underscore is private.
"""

from __future__ import annotations

from ._clock import Clock, ManualClock, ScaledClock, SystemClock
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
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    RunTimeoutError,
    ServerError,
    UnprocessableEntityError,
)
from ._status import AgentRunStatus
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AgentRunFailedError",
    "AgentRunLimitReachedError",
    "AgentRunStatus",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "Clock",
    "CodegenError",
    "ConfigurationError",
    "ConflictError",
    "ManualClock",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "RunTimeoutError",
    "ScaledClock",
    "ServerError",
    "SystemClock",
    "UnprocessableEntityError",
    "__version__",
]
