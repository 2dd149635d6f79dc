"""The exceptions codegen-graph raises, all under one base.

::

    CodegenError
    ├── ConfigurationError            bad arguments or environment (also a ValueError)
    ├── APIError                      something went wrong talking to the API
    │   ├── APIStatusError            the API answered with a 4xx/5xx
    │   │   ├── BadRequestError               400
    │   │   ├── AuthenticationError           401
    │   │   ├── AgentRunLimitReachedError     402  (plan quota reached)
    │   │   ├── PermissionDeniedError         403
    │   │   ├── NotFoundError                 404
    │   │   ├── ConflictError                 409
    │   │   ├── UnprocessableEntityError      422  (``.detail``: the server's list)
    │   │   ├── RateLimitError                429  (``.retry_after`` in seconds)
    │   │   └── ServerError                   5xx
    │   ├── APIConnectionError        no usable answer: refused, reset, dropped
    │   │   └── APITimeoutError       no answer in time
    │   └── ResponseValidationError   an answer that does not match the spec's model
    ├── CircuitOpenError              too many transient failures; failing fast
    ├── ClientClosedError             the client was closed (its waits end with this)
    ├── RunTimeoutError               ``wait()`` ran out of time (``.run``: last known)
    ├── AgentRunFailedError           the run ended FAILED / ERROR / CANCELLED (``.run``)
    ├── OutputValidationError         no answer validated against ``output_schema``
    │                                 (``.attempts``: every answer checked, ``.run``)
    └── PromptInjectionError          (``codegen_graph.plugins``) a guard blocked a prompt

Every API error carries ``method``, ``path`` (never the query string, never a token) and
``request_id`` when the server sent one. ``is_transient`` says whether trying again later
can help; the client's retries and :func:`codegen_graph.graph.codegen_retry_policy` both use
it, so the classification lives in exactly one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import AgentRunResponse

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AgentRunFailedError",
    "AgentRunLimitReachedError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ClientClosedError",
    "CodegenError",
    "ConfigurationError",
    "ConflictError",
    "NotFoundError",
    "OutputValidationError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "RunTimeoutError",
    "ServerError",
    "UnprocessableEntityError",
    "status_error_class",
]


class CodegenError(Exception):
    """Base class of every error codegen-graph raises."""

    #: Whether trying the same thing again later can succeed.
    is_transient: bool = False


class ConfigurationError(CodegenError, ValueError):
    """A missing or invalid setting: the message names the argument and the variable."""


class APIError(CodegenError):
    """An error while talking to the Codegen API."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.request_id = request_id

    def _where(self) -> str:
        parts = []
        if self.method and self.path:
            parts.append(f"{self.method} {self.path}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return f" ({', '.join(parts)})" if parts else ""

    def __str__(self) -> str:
        return f"{self.message}{self._where()}"


class APIStatusError(APIError):
    """The API answered with an error status.

    Attributes:
        status_code: the HTTP status.
        body: the decoded JSON body, or the text (truncated) if it was not JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path, request_id=request_id)
        self.status_code = status_code
        self.body = body
        if status_code == 408:
            # 408 Request Timeout has no class of its own but is as retryable as a 5xx.
            self.is_transient = True

    def __str__(self) -> str:
        return f"HTTP {self.status_code}: {self.message}{self._where()}"


class BadRequestError(APIStatusError):
    """400: the request was malformed."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, wrong or expired."""


class AgentRunLimitReachedError(APIStatusError):
    """402: the organisation's plan allows no more agent runs."""


class PermissionDeniedError(APIStatusError):
    """403: the token has no access to this organisation or resource."""


class NotFoundError(APIStatusError):
    """404: no such run, user or repository (or no repositories in the org)."""


class ConflictError(APIStatusError):
    """409: the resource changed under the request; retried by the client."""

    is_transient = True


class UnprocessableEntityError(APIStatusError):
    """422: the server rejected an argument; ``detail`` lists which and why."""

    @property
    def detail(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict) and isinstance(self.body.get("detail"), list):
            return [d for d in self.body["detail"] if isinstance(d, dict)]
        return []


class RateLimitError(APIStatusError):
    """429: over the API's rate limit; ``retry_after`` is the server's hint in seconds."""

    is_transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the API failed; retried by the client."""

    is_transient = True


class APIConnectionError(APIError):
    """No usable answer: connection refused, reset or dropped mid-response."""

    is_transient = True


class APITimeoutError(APIConnectionError):
    """No answer within the timeout."""


class ResponseValidationError(APIError):
    """The server's answer does not match the spec's model (or is not JSON at all)."""


class CircuitOpenError(CodegenError):
    """The client saw too many consecutive transient failures and is failing fast.

    ``retry_at`` is the clock time at which one probe request will be let through.
    """

    is_transient = True

    def __init__(self, message: str, *, retry_at: float | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class ClientClosedError(CodegenError):
    """The client was closed (``close()``/``aclose()``): its pending waits end with this, and
    every later call fails fast with it. Make a new client to go on; the runs themselves go
    on in Codegen's cloud."""


class _RunError(CodegenError):
    def __init__(self, message: str, *, run: AgentRunResponse | None) -> None:
        super().__init__(message)
        self.run = run


class RunTimeoutError(_RunError):
    """``wait()`` gave up; ``run`` is the last state seen. The remote run goes on."""

    is_transient = True


class AgentRunFailedError(_RunError):
    """The run ended ``FAILED``, ``ERROR`` or ``CANCELLED``; ``run`` holds it."""


class OutputValidationError(_RunError):
    """The run's answers never validated against ``output_schema``; not transient.

    ``attempts`` holds every answer checked (:class:`codegen_graph.OutputAttempt`: number,
    text, errors), oldest first; ``run`` is the run's last state. The run itself is not
    resumed again: re-running the wait would only spend more of the agent's time.
    """

    def __init__(
        self, message: str, *, run: AgentRunResponse | None, attempts: tuple[Any, ...] = ()
    ) -> None:
        super().__init__(message, run=run)
        self.attempts = attempts


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: AgentRunLimitReachedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIStatusError)
