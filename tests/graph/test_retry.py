"""codegen_retry_policy: the classification table, and real retries in a compiled graph."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
import pytest
from langgraph.errors import NodeTimeoutError
from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy
from typing_extensions import TypedDict

import codegen_graph._exceptions as errors
from codegen_graph import ConfigurationError
from codegen_graph.graph import codegen_retry_policy, is_retryable_codegen_error

# LangGraph's own default predicate, taken from where users meet it.
default_retry_on: Any = RetryPolicy().retry_on
# On Python 3.10 asyncio.TimeoutError is not the builtin TimeoutError (an OSError).
ASYNCIO_TIMEOUT_IS_OSERROR = sys.version_info >= (3, 11)


def status(cls: type[errors.APIStatusError], code: int) -> errors.APIStatusError:
    return cls(f"HTTP {code}", status_code=code, method="GET", path="/v1/x")


def http_status_error(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://127.0.0.1/x")
    response = httpx.Response(code, request=request)
    return httpx.HTTPStatusError(f"{code}", request=request, response=response)


# (exception, retried by codegen_retry_policy, retried by LangGraph's default retry_on)
TABLE: list[tuple[BaseException, bool, bool]] = [
    (status(errors.RateLimitError, 429), True, True),
    (status(errors.ServerError, 500), True, True),
    (status(errors.ServerError, 503), True, True),
    (status(errors.ConflictError, 409), True, True),
    (errors.APIConnectionError("refused"), True, True),
    (errors.APITimeoutError("slow"), True, True),
    (errors.CircuitOpenError("open", retry_at=5.0), True, True),
    (errors.RunTimeoutError("waited long enough", run=None), True, True),
    (status(errors.BadRequestError, 400), False, True),
    (status(errors.AuthenticationError, 401), False, True),
    (status(errors.AgentRunLimitReachedError, 402), False, True),
    (status(errors.PermissionDeniedError, 403), False, True),
    (status(errors.NotFoundError, 404), False, True),
    (status(errors.UnprocessableEntityError, 422), False, True),
    (status(errors.APIStatusError, 418), False, True),
    (errors.ResponseValidationError("not the spec's shape"), False, True),
    (errors.AgentRunFailedError("run FAILED", run=None), False, True),
    (errors.OutputValidationError("never valid", run=None), False, True),
    (errors.ConfigurationError("set CODEGEN_ORG_ID"), False, False),
    (errors.ClientClosedError("the client was closed"), False, True),
    (errors.APIError("generic"), False, True),
    (errors.CodegenError("generic"), False, True),
    (httpx.ConnectError("refused"), True, True),
    (httpx.ReadTimeout("slow"), True, True),
    (httpx.RemoteProtocolError("dropped"), True, True),
    (http_status_error(429), True, False),
    (http_status_error(408), True, False),
    (http_status_error(502), True, True),
    (http_status_error(404), False, False),
    (ConnectionResetError(), True, True),
    (TimeoutError(), True, False),
    (asyncio.TimeoutError(), True, not ASYNCIO_TIMEOUT_IS_OSERROR),
    (NodeTimeoutError("code", 1.0, kind="run", run_timeout=1.0), True, True),
    (ValueError("bug"), False, False),
    (TypeError("bug"), False, False),
    (KeyError("bug"), False, False),
    (RuntimeError("bug"), False, False),
    (OSError("disk"), False, False),
    (Exception("who knows"), False, True),
]


@pytest.mark.parametrize(
    ("exc", "ours", "default"),
    TABLE,
    ids=[type(e).__name__ + str(i) for i, (e, *_) in enumerate(TABLE)],
)
def test_classification_table(exc: Exception, ours: bool, default: bool) -> None:
    assert is_retryable_codegen_error(exc) is ours
    # LangGraph's default retry_on, for the record (docs/graph.md explains the difference).
    assert default_retry_on(exc) is default


def test_the_table_covers_every_codegen_error_class() -> None:
    classes = {
        getattr(errors, name)
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), errors.CodegenError)
    }
    assert classes <= {type(exc) for exc, *_ in TABLE}


def test_the_predicate_agrees_with_is_transient() -> None:
    for exc, ours, _ in TABLE:
        if isinstance(exc, errors.CodegenError):
            assert ours is exc.is_transient


def test_policy_defaults_and_fields() -> None:
    policy = codegen_retry_policy()
    assert isinstance(policy, RetryPolicy)
    assert policy == RetryPolicy(
        initial_interval=1.0,
        backoff_factor=2.0,
        max_interval=60.0,
        max_attempts=5,
        jitter=True,
        retry_on=is_retryable_codegen_error,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": True},
        {"initial_interval": -1.0},
        {"backoff_factor": 0.5},
        {"initial_interval": 10.0, "max_interval": 5.0},
    ],
)
def test_bad_settings_are_configuration_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        codegen_retry_policy(**kwargs)


# --- in a compiled graph -----------------------------------------------------------------


class State(TypedDict, total=False):
    done: bool


def flaky_graph(
    failures: list[BaseException], attempts: list[int], *, max_attempts: int = 5
) -> Any:
    def node(state: State) -> State:
        attempts.append(1)
        if failures:
            raise failures.pop(0)
        return {"done": True}

    builder = StateGraph(State)
    builder.add_node(
        "launch",
        node,
        retry_policy=codegen_retry_policy(
            max_attempts=max_attempts, initial_interval=0.001, jitter=False
        ),
    )
    builder.add_edge(START, "launch")
    builder.add_edge("launch", END)
    return builder.compile()


def test_rate_limited_twice_then_succeeds() -> None:
    attempts: list[int] = []
    failures: list[BaseException] = [
        status(errors.RateLimitError, 429),
        status(errors.RateLimitError, 429),
    ]
    assert flaky_graph(failures, attempts).invoke({}) == {"done": True}
    assert len(attempts) == 3


def test_authentication_error_is_not_retried() -> None:
    attempts: list[int] = []
    with pytest.raises(errors.AuthenticationError):
        flaky_graph([status(errors.AuthenticationError, 401)], attempts).invoke({})
    assert len(attempts) == 1


def test_gives_up_after_max_attempts() -> None:
    attempts: list[int] = []
    failures: list[BaseException] = [status(errors.ServerError, 503) for _ in range(5)]
    with pytest.raises(errors.ServerError):
        flaky_graph(failures, attempts, max_attempts=3).invoke({})
    assert len(attempts) == 3


async def test_async_node_retries_the_same_way() -> None:
    attempts: list[int] = []
    failures: list[BaseException] = [errors.APIConnectionError("reset"), ValueError("bug")]

    async def node(state: State) -> State:
        attempts.append(1)
        if failures:
            raise failures.pop(0)
        return {"done": True}

    builder = StateGraph(State)
    builder.add_node(
        "launch",
        node,
        retry_policy=codegen_retry_policy(initial_interval=0.001, jitter=False),
    )
    builder.add_edge(START, "launch")
    builder.add_edge("launch", END)
    with pytest.raises(ValueError, match="bug"):
        await builder.compile().ainvoke({})
    assert len(attempts) == 2  # the connection error was retried, the bug was not
