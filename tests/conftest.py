"""Suite-wide isolation for LangSmith's process-wide state (env var cache, global client,
flags): no test traces anywhere unless it turns tracing on itself (to a loopback sink), even
when the developer's shell has LANGSMITH_TRACING set."""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

_LS_VARS = (
    "LANGSMITH_TRACING",
    "LANGSMITH_TRACING_V2",
    "LANGCHAIN_TRACING",
    "LANGCHAIN_TRACING_V2",
    "LANGSMITH_ENDPOINT",
    "LANGCHAIN_ENDPOINT",
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "LANGSMITH_PROJECT",
    "LANGCHAIN_PROJECT",
)


def _clear_langsmith_caches() -> None:
    from langsmith import utils as ls_utils

    ls_utils.get_env_var.cache_clear()
    ls_utils.get_tracer_project.cache_clear()


#: Set by CI services; with them (and no token) nothing falls back to the embedded backend.
#: Tests run as on a developer's machine; the CI rule's own tests set them. A developer's own
#: Codegen credentials or Redis URL never leak into the suite either (tests that need them
#: set them): a test never reaches the real API, and a client is coordinated only on purpose.
_CI_VARS = (
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "CODEGEN_GRAPH_LOCAL",
    "CODEGEN_API_TOKEN",
    "CODEGEN_ORG_ID",
    "CODEGEN_API_BASE_URL",
    "CODEGEN_REDIS_URL",
)


@pytest.fixture(autouse=True, scope="session")
def not_in_ci() -> Iterator[None]:
    """The suite runs outside CI (the backend choice reads ``CI``/``GITHUB_ACTIONS``), module
    fixtures that start servers included: session scope sets this up before them."""
    with pytest.MonkeyPatch.context() as mp:
        for name in _CI_VARS:
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(autouse=True)
def isolated_langsmith(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with tracing off and LangSmith's global client unset."""
    import langsmith
    from langsmith import run_trees

    for name in _LS_VARS:
        monkeypatch.delenv(name, raising=False)
    _clear_langsmith_caches()
    saved_client = run_trees._CLIENT
    run_trees._CLIENT = None
    yield
    if run_trees._CLIENT is not None:
        run_trees._CLIENT.flush()
    langsmith.configure(client=saved_client, enabled=None, project_name=None)
    monkeypatch.undo()
    _clear_langsmith_caches()


@pytest.fixture
def sigint_reaches_children() -> Iterator[None]:
    """Child processes started during the test get SIGINT's default disposition.

    A process started in the background by a non-interactive shell (``pytest &``, ``nohup``,
    some CI runners) begins with SIGINT *ignored*, and ``exec`` keeps an ignored signal
    ignored: a child CLI would never see the Ctrl-C a test sends it, and would run on to its
    natural end. A *handled* signal is reset to the default at ``exec``, so handling SIGINT
    here (Python's own KeyboardInterrupt handler) for the test's duration is enough.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


Stalls = Callable[[Awaitable[Any]], Awaitable[tuple[Any, float]]]


@pytest.fixture
def loop_stalls() -> Stalls:
    """``await loop_stalls(coro)``: ``(its result or exception, longest stall)``. A stall is
    the event loop thread's CPU time between two wakeups of a ticker task sleeping 5 ms at a
    time: how long other work held the loop. Measured in real seconds (``thread_time``), a
    latency check, not a sleep; unlike a wall-clock gap it leaves out the time the OS gives
    other processes on a loaded machine, which no code of ours can prevent."""

    async def measure(awaitable: Awaitable[Any]) -> tuple[Any, float]:
        worst = last = 0.0

        async def tick() -> None:
            nonlocal worst, last
            while True:
                await asyncio.sleep(0.005)
                worst, last = max(worst, time.thread_time() - last), time.thread_time()

        # A full garbage collection walks every object of the test process (pytest, LangChain,
        # ...), tens of ms whatever the code under test does: only new objects are walked.
        gc.collect()
        gc.freeze()
        last = time.thread_time()
        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0)  # the ticker runs before the measured work starts
        try:
            outcome: Any = await awaitable
        except Exception as exc:
            outcome = exc
        finally:
            ticker.cancel()
            gc.unfreeze()
        return outcome, max(worst, time.thread_time() - last)  # the last step's work too

    return measure
