"""Graph factories for LangGraph Server, ``langgraph dev`` and LangGraph Studio.

``langgraph.json`` points at :func:`feature_graph`, :func:`codegen_graph` and
:func:`supervisor_graph` in module form (``codegen_graph.studio:feature_graph``: a file path
would be loaded as a top-level module, breaking the package's relative imports). In Python
use :func:`build_feature_graph` / :func:`build_supervisor_graph` /
:func:`~codegen_graph.graph.codegen_agent`, the same graphs as plain functions. Details, and
what ``tests/studio`` checks: ``docs/workflows.md``, ``docs/supervisor.md`` and
``docs/deployment.md``.

* ``feature``: the feature workflow; ``codegen``: one Codegen agent as a graph of
  ``messages`` (a thread is one conversation, one Codegen run: what a Deep Agents
  ``AsyncSubAgent`` or any Agent Protocol client drives); ``supervisor``: the supervisor.
* The server calls a factory whenever it needs the graph (to run, draw or read a thread):
  each compiles once per process (and option set) and answers from that cache afterwards,
  without a checkpointer (the server brings its own).
* Every server graph runs on one async client per process (:func:`async_client_from_env`):
  a waiting agent is a coroutine, not a worker thread; one rate budget and one watcher
  serve every thread (the sync twin, :func:`client_from_env`, spends the same budget); a
  cancelled ``codegen`` run stops its Codegen run (``feature``'s agents keep working, and
  a later run of the thread attaches to them again). It is built once per process by the CLI's rule
  (:func:`codegen_graph.backend.choose_backend`): the real API with a token, else the
  embedded backend (as ``codegen-graph serve`` in a child process under the server), its
  clock ``CODEGEN_GRAPH_TIME_SCALE`` times faster than real time. A token with
  ``CODEGEN_API_BASE_URL`` naming a ``codegen-graph serve --time-scale F`` and
  ``CODEGEN_GRAPH_TIME_SCALE=F`` keeps that server's time.
* The feature graph's options are its context schema (``FeatureOptions``, shown with their
  defaults), read when a thread starts and checkpointed with it.
* The supervisor's model comes from :data:`SUPERVISOR_MODEL_ENV_VAR`; without a usable one
  the server's graph still opens and draws, and a run answers with what to set. Its
  options come from ``configurable``: ``max_turns`` and ``repo_id`` (integers).
* Under the server the logs stay quiet unless :data:`LOG_LEVEL_ENV_VAR` asks otherwise.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import logging
import os
import secrets
import sys
import threading
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from pydantic import ConfigDict, TypeAdapter, with_config

from . import AsyncCodegenClient, CodegenClient
from ._config import BASE_URL_ENV_VAR, is_loopback_host
from ._exceptions import ConfigurationError
from .backend import DEFAULT_TIME_SCALE, choose_backend, local_backend_class
from .clock import ScaledClock
from .graph import FeatureOptions, codegen_agent, feature_workflow, supervisor_workflow

__all__ = [
    "LOG_LEVEL_ENV_VAR",
    "SUPERVISOR_MODEL_ENV_VAR",
    "TIME_SCALE_ENV_VAR",
    "async_client_from_env",
    "build_feature_graph",
    "build_supervisor_graph",
    "client_from_env",
    "codegen_graph",
    "feature_graph",
    "reset_client",
    "supervisor_graph",
    "supervisor_model_from_env",
]

TIME_SCALE_ENV_VAR = "CODEGEN_GRAPH_TIME_SCALE"
"""Environment variable: simulated seconds per real second for the embedded backend (or
for a ``codegen-graph serve`` named by ``CODEGEN_API_BASE_URL``)."""

SUPERVISOR_MODEL_ENV_VAR = "CODEGEN_GRAPH_SUPERVISOR_MODEL"
"""Environment variable: the supervisor's chat model, as ``provider:model``."""

LOG_LEVEL_ENV_VAR = "CODEGEN_GRAPH_LOG_LEVEL"
"""Environment variable: codegen-graph's log level under LangGraph Server (default: quiet,
warnings only, and no httpx line per Codegen request)."""

_lock = threading.Lock()
_client: CodegenClient | None = None
_async_client: AsyncCodegenClient | None = None  # the same settings, for cancellable nodes
_backend: Any = None  # LocalCodegen, imported lazily (the local extra is optional)
#: The server factories' compiled graphs and supervisor models, built once per key.
_graphs: dict[tuple[Any, ...], CompiledStateGraph[Any, Any, Any, Any]] = {}
_models: dict[str, BaseChatModel] = {}
_closing: set[asyncio.Task[None]] = set()  # async clients reset_client is closing


def _time_scale(environ: Mapping[str, str]) -> float:
    raw = environ.get(TIME_SCALE_ENV_VAR, "").strip()
    if not raw:
        return DEFAULT_TIME_SCALE
    try:
        scale = float(raw)
    except ValueError:
        raise ConfigurationError(
            f"{TIME_SCALE_ENV_VAR} must be a positive number (simulated seconds per real "
            f"second), got {raw!r}"
        ) from None
    if not scale > 0:
        raise ConfigurationError(f"{TIME_SCALE_ENV_VAR} must be > 0, got {raw!r}")
    return scale


def _build_client(
    environ: Mapping[str, str], out_of_process: bool
) -> tuple[CodegenClient, AsyncCodegenClient, Any]:
    choice = choose_backend(environ=environ, local_flag="CODEGEN_GRAPH_LOCAL=1")
    if not choice.local:
        clock = ScaledClock(_time_scale(environ)) if _names_a_served_backend(environ) else None
        return (*_one_budget(CodegenClient(clock=clock), AsyncCodegenClient(clock=clock)), None)
    scale = _time_scale(environ)
    local_cls = local_backend_class()
    if out_of_process:
        from .local import LocalServer

        org = 100_000 + secrets.randbelow(900_000)
        try:
            server = LocalServer(org_id=org, time_scale=scale, startup_timeout=30.0).start()
        except RuntimeError as exc:
            raise ConfigurationError(
                f"the embedded Codegen backend failed to start: {exc}"
            ) from None
        atexit.register(server.stop)
        where = f"{server.base_url}, org {server.org_id}"
        # The client keeps time like the backend (rate budgets, Retry-After and polling are
        # in simulated seconds), as the in-process backend's client does.
        settings: dict[str, Any] = {"base_url": server.base_url, "clock": ScaledClock(scale)}
        client = CodegenClient(server.token, server.org_id, **settings)
        aclient = AsyncCodegenClient(server.token, server.org_id, **settings)
        backend: Any = server
    else:
        backend = local_cls(time_scale=scale)
        where = f"in process, org {backend.org_id}"
        client, aclient = backend.client(), backend.async_client()
    print(f"codegen-graph: {choice.notice} ({where}, time scale {scale:g}x).", file=sys.stderr)
    return (*_one_budget(client, aclient), backend)


def _names_a_served_backend(environ: Mapping[str, str]) -> bool:
    """A time scale and a loopback base URL: a ``codegen-graph serve --time-scale F``, whose
    time the clients keep. Any other API root runs on real time, the scale ignored."""
    scale = environ.get(TIME_SCALE_ENV_VAR, "").strip()
    base_url = environ.get(BASE_URL_ENV_VAR, "").strip()
    if not (scale and base_url):
        return False
    if is_loopback_host(urllib.parse.urlsplit(base_url).hostname or ""):
        return True
    logging.getLogger("codegen_graph.studio").warning(
        "%s is ignored: %s names no loopback codegen-graph serve, and an API runs on real time",
        TIME_SCALE_ENV_VAR,
        BASE_URL_ENV_VAR,
    )
    return False


def _one_budget(
    client: CodegenClient, aclient: AsyncCodegenClient
) -> tuple[CodegenClient, AsyncCodegenClient]:
    """The process's two clients spend one org budget and trip one circuit breaker (both
    are thread-safe): the sync twin's calls count against the async client's budget."""
    aclient.rate_budgets, aclient.circuit = client.rate_budgets, client.circuit
    return client, aclient


def client_from_env(*, out_of_process: bool = False) -> CodegenClient:
    """The process-wide sync client (built on first call, then reused; the server's graphs
    use its async twin, :func:`async_client_from_env`, built with it).

    The real Codegen API when ``CODEGEN_API_TOKEN`` (or ``CODEGEN_TOKEN``) is set (on the
    clock of ``CODEGEN_GRAPH_TIME_SCALE`` when ``CODEGEN_API_BASE_URL`` is set too: a
    served local backend), else an embedded local backend with time scale
    ``CODEGEN_GRAPH_TIME_SCALE`` (default 60).
    One client for the whole process matters for the local backend: a thread paused for
    approval and resumed by a later server run must find its agent runs again.

    Args:
        out_of_process: run the embedded backend as ``codegen-graph serve`` in a child
            process on 127.0.0.1 instead of in this process. LangGraph Server needs that:
            the in-process backend answers on an event loop of its own and uses SQLite,
            which ``langgraph dev`` rejects as blocking. Only the first call decides.

    Raises:
        ConfigurationError: a bad ``CODEGEN_GRAPH_TIME_SCALE``, a token without
            ``CODEGEN_ORG_ID``, no token and no local extra installed, or an embedded
            server that does not start.
    """
    global _client, _async_client, _backend
    with _lock:
        if _client is None:
            _client, _async_client, _backend = _build_client(os.environ, out_of_process)
        return _client


def async_client_from_env(*, out_of_process: bool = False) -> AsyncCodegenClient:
    """The async twin of :func:`client_from_env` (the same backend and settings): what every
    server graph's nodes use (no thread per wait; the same rate budget and breaker as the
    sync twin). The first call may start the embedded backend and wait for it: from async
    code, call it in a worker thread (``await asyncio.to_thread(async_client_from_env)``)."""
    client_from_env(out_of_process=out_of_process)
    assert _async_client is not None
    return _async_client


def reset_client() -> None:
    """Close the process-wide client (and embedded backend); the next call builds anew."""
    global _client, _async_client, _backend
    with _lock:
        client, aclient, backend = _client, _async_client, _backend
        _client = _async_client = _backend = None
        _graphs.clear()  # they hold the client
        _models.clear()
    if client is not None:
        client.close()
    if aclient is not None:
        _close_async(aclient)
    if backend is not None:
        backend.close()


def _close_async(aclient: AsyncCodegenClient) -> None:
    """Close the async client from sync code: on its own loop when none runs here, else as
    a task of the running loop (its pool and watcher belong to that loop)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:  # the loop keeps only a weak reference to a task: hold it
        task = loop.create_task(aclient.aclose())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
        return
    try:
        asyncio.run(aclient.aclose())
    except RuntimeError:  # its connections died with the loop they were opened on
        logging.getLogger("codegen_graph.studio").debug("async client closed with its loop")


def _int_option(configurable: Mapping[str, Any], name: str, default: int | None) -> int | None:
    """``configurable[name]`` as an int (a JSON number or a digit string), or ``default``."""
    value = configurable.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigurationError(f"configurable.{name} must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"configurable.{name} must be an integer, got {value!r}") from None


def _with_defaults(schema: dict[str, Any]) -> None:
    """Studio's context form shows JSON Schema defaults: the options' own docs, and the
    defaults of ``feature_workflow()`` that a thread takes for a key left out."""
    documented = TypeAdapter(FeatureOptions).json_schema()
    defaults = inspect.signature(feature_workflow).parameters
    schema.update(title=documented["title"], description=documented.get("description"))
    for name, prop in schema["properties"].items():
        prop.update(documented["properties"][name], default=defaults[name].default)


@with_config(ConfigDict(json_schema_extra=_with_defaults))
class _StudioFeatureOptions(FeatureOptions):
    pass


def build_feature_graph(
    config: RunnableConfig | None = None,
    *,
    client: CodegenClient | AsyncCodegenClient | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The feature workflow compiled without a checkpointer.

    The graph is the same for every run: its options are the thread's, given as the first
    run's ``context`` (see :class:`~codegen_graph.graph.FeatureOptions`) and checkpointed,
    never read from a later run's config. Its context schema carries their defaults.

    Args:
        config: the run config LangGraph Server passes (not read: the options are context).
        client: the client the agents use (default :func:`client_from_env`; an async one
            makes async nodes, as the server's factory does).

    Returns:
        ``feature_workflow(client=...).compile(name="feature")``.
    """
    del config  # the options live in the thread's state, not in each run's config
    builder = feature_workflow(client=client if client is not None else client_from_env())
    builder.context_schema = _StudioFeatureOptions  # FeatureOptions, defaults shown
    return builder.compile(name="feature")


async def _server_client() -> CodegenClient:
    """The process client for the server's factories, built off its event loop the first
    time; that first call also quiets the logs (see :func:`_quiet_logs`)."""
    if _client is not None:
        return _client
    level = _log_level()  # checked before anything starts
    _quiet_logs(level, "http://127.0.0.1:")  # meanwhile: the embedded backend's start-up
    client = await asyncio.to_thread(client_from_env, out_of_process=True)
    _OWN_REQUESTS.base_url = client.base_url
    return client


async def _server_async_client() -> AsyncCodegenClient:
    """The client of every server graph: one per process, one rate budget, one watcher."""
    await _server_client()
    assert _async_client is not None
    return _async_client


def _cached(
    key: tuple[Any, ...], build: Callable[[], CompiledStateGraph[Any, Any, Any, Any]]
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph built for ``key`` (the server copies it per request, so one is enough)."""
    graph = _graphs.get(key)
    if graph is None:
        graph = _graphs[key] = build()
    return graph


class _OwnRequests(logging.Filter):
    """Drops httpx's INFO line for the requests of one client (a wait polls, so a run
    writes dozens); other httpx users keep theirs."""

    base_url = "\0"  # set to the client's by _quiet_logs

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (len(args) > 1 and str(args[1]).startswith(self.base_url))


_OWN_REQUESTS = _OwnRequests()
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING}


def _log_level() -> int:
    raw = os.environ.get(LOG_LEVEL_ENV_VAR, "").strip().upper() or "WARNING"
    if raw not in _LEVELS:
        raise ConfigurationError(
            f"{LOG_LEVEL_ENV_VAR} must be DEBUG, INFO or WARNING (the default), got {raw!r}"
        )
    return _LEVELS[raw]


def _quiet_logs(level: int, base_url: str) -> None:
    """Under the server: codegen-graph's INFO lines, and httpx's line per request of our
    client, only when :data:`LOG_LEVEL_ENV_VAR` asks for them."""
    logging.getLogger("codegen_graph").setLevel(level)
    if level > logging.INFO:
        _OWN_REQUESTS.base_url = base_url
        logging.getLogger("httpx").addFilter(_OWN_REQUESTS)  # once: the same filter


@asynccontextmanager
async def feature_graph(
    config: RunnableConfig,
) -> AsyncIterator[CompiledStateGraph[Any, Any, Any, Any]]:
    """The factory ``langgraph.json`` exports: :func:`build_feature_graph` for the server.

    LangGraph Server calls it on its event loop, where ``langgraph dev`` rejects blocking
    calls: the client is built (the first time) in a worker thread, and the embedded
    backend runs as ``codegen-graph serve`` in a child process (see
    :func:`client_from_env`). The nodes use the async client (:func:`async_client_from_env`):
    a waiting agent is a coroutine, not a worker thread (the event loop's default pool has
    ``min(32, CPUs + 4)``). A cancelled run leaves its agents' Codegen runs working: a later
    run of the thread attaches to them again by their keys. The compiled graph is
    reused by every later call.

    Examples:
        >>> async with feature_graph({"configurable": {}}) as graph:  # doctest: +SKIP
        ...     await graph.ainvoke({"task": "Add a /health endpoint"})
    """
    client = await _server_async_client()
    yield _cached(("feature",), lambda: build_feature_graph(config, client=client))


@asynccontextmanager
async def codegen_graph(
    config: RunnableConfig,
) -> AsyncIterator[CompiledStateGraph[Any, Any, Any, Any]]:
    """The ``codegen`` graph of ``langgraph.json``: :func:`~codegen_graph.graph.codegen_agent`
    on the async client, so that ``runs.cancel`` (a Deep Agents ``cancel_async_task``)
    cancels its node and stops the Codegen run. A thread is one conversation, one run."""
    del config
    client = await _server_async_client()
    yield _cached(("codegen",), lambda: codegen_agent(client=client, name="codegen"))


def supervisor_model_from_env() -> BaseChatModel:
    """The supervisor's chat model, from :data:`SUPERVISOR_MODEL_ENV_VAR`.

    There is no default: a supervisor without a real model cannot route anything.

    Raises:
        ConfigurationError: the variable is unset, or names a model
            ``init_chat_model`` cannot build (unknown provider, provider package missing).
    """
    spec = os.environ.get(SUPERVISOR_MODEL_ENV_VAR, "").strip()
    if not spec:
        raise ConfigurationError(
            f"set {SUPERVISOR_MODEL_ENV_VAR} to the supervisor's chat model as "
            "'provider:model' (for example 'anthropic:claude-sonnet-4-5' or "
            "'openai:gpt-4.1') and install that provider's LangChain package"
        )
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:  # pragma: no cover - langchain comes with the [agents] extra
        raise ConfigurationError(
            "the supervisor graph needs langchain: install the agents extra "
            "(from a checkout: pip install '.[agents]')"
        ) from None
    try:
        model = init_chat_model(spec)
    except (ImportError, ValueError) as exc:
        raise ConfigurationError(f"{SUPERVISOR_MODEL_ENV_VAR}={spec!r}: {exc}") from exc
    if not isinstance(model, BaseChatModel):  # pragma: no cover - init_chat_model's contract
        raise ConfigurationError(f"{SUPERVISOR_MODEL_ENV_VAR}={spec!r} is not a chat model")
    return model


def build_supervisor_graph(
    config: RunnableConfig | None = None,
    *,
    model: BaseChatModel | None = None,
    client: CodegenClient | None = None,
    async_client: AsyncCodegenClient | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The supervisor workflow compiled without a checkpointer, with per-run options.

    Args:
        config: a run config; ``configurable`` may set ``max_turns`` and ``repo_id``.
        model: the supervisor's chat model (default :func:`supervisor_model_from_env`).
        client: the client the agents use (default :func:`client_from_env`).
        async_client: the client its tools use when the graph runs async (the server's
            factory passes :func:`async_client_from_env`).

    Returns:
        ``supervisor_workflow(model=..., client=..., ...).compile(name="supervisor")``.

    Raises:
        ConfigurationError: no model configured, or a configurable option of the wrong
            type.
    """
    configurable = (config or {}).get("configurable") or {}
    max_turns = _int_option(configurable, "max_turns", 12)
    if max_turns is None or max_turns < 1:
        raise ConfigurationError(f"configurable.max_turns must be >= 1, got {max_turns}")
    repo_id = _int_option(configurable, "repo_id", None)
    builder = supervisor_workflow(
        model=model if model is not None else supervisor_model_from_env(),
        client=client if client is not None else client_from_env(),
        async_client=async_client,
        max_turns=max_turns,
        repo_id=repo_id,
    )
    return builder.compile(name="supervisor")


class _MissingModel(BaseChatModel):
    """Stands in for an unconfigured supervisor model under the server: the graph opens
    and draws, and a run answers with what to set instead of failing in the server log."""

    problem: str

    @property
    def _llm_type(self) -> str:
        return "codegen-graph-missing-model"

    def bind_tools(self, tools: Any, **kwargs: Any) -> _MissingModel:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        text = (
            f"The supervisor has no chat model, so it did nothing: {self.problem}. Then "
            "restart the server (langgraph dev) and run the thread again."
        )
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


def _server_model(spec: str) -> BaseChatModel:
    """The supervisor model for ``spec`` (built once), or the stand-in saying what is wrong."""
    model = _models.get(spec)
    if model is None:
        try:
            model = supervisor_model_from_env()
        except ConfigurationError as exc:
            model = _MissingModel(problem=str(exc))
        _models[spec] = model
    return model


@asynccontextmanager
async def supervisor_graph(
    config: RunnableConfig,
) -> AsyncIterator[CompiledStateGraph[Any, Any, Any, Any]]:
    """The supervisor factory ``langgraph.json`` exports (see :func:`feature_graph`; its
    tools use the async client under the server).

    The model is built from :data:`SUPERVISOR_MODEL_ENV_VAR` (in a worker thread, once);
    without a usable one the graph still opens and draws, and a run answers with what to
    set. Graphs are reused per ``max_turns`` and ``repo_id``.
    """
    client = await _server_client()
    aclient = await _server_async_client()  # built with it: no second start
    spec = os.environ.get(SUPERVISOR_MODEL_ENV_VAR, "").strip()
    model = _models.get(spec)
    if model is None:  # the first call may import a provider package: off the event loop
        model = await asyncio.to_thread(_server_model, spec)
    configurable = (config or {}).get("configurable") or {}
    key = (
        "supervisor",
        spec,
        repr(configurable.get("max_turns")),
        repr(configurable.get("repo_id")),
    )
    yield _cached(
        key,
        lambda: build_supervisor_graph(config, model=model, client=client, async_client=aclient),
    )
