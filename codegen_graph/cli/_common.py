"""Plumbing shared by every ``codegen-graph`` command: backends, errors, exit codes, output.

Exit codes (the table is in ``docs/cli.md``): 0 success, 1 the agent run (or its tests)
failed or an internal bug, 2 usage or configuration, 3 the API refused, 4 transient (try
again), 130 interrupted.

Every :class:`~codegen_graph.CodegenError` becomes one ``error:`` line and one ``hint:``
line on stderr, without a traceback unless the global ``--debug`` option is given.

:class:`Backend` is the seam commands use to reach the API: the real Codegen API when a
token is configured, otherwise an in-process :class:`~codegen_graph.local.LocalCodegen`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from .._config import TokenSource, resolve_base_url, resolve_org_id
from .._error_text import cli_hint
from .._exceptions import (
    AgentRunFailedError,
    CodegenError,
    ConfigurationError,
)
from ..backend import DEFAULT_TIME_SCALE, BackendChoice, choose_backend, local_backend_class

if TYPE_CHECKING:
    from .. import AsyncCodegenClient, CodegenClient
    from ..local import LocalCodegen

__all__ = [
    "DEFAULT_TIME_SCALE",
    "EXIT_API",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TRANSIENT",
    "EXIT_USAGE",
    "FROM_OPTIONS",
    "TIME_SCALE_TAKES",
    "Backend",
    "BackendOptions",
    "CliState",
    "backend_options",
    "cli_state",
    "exit_code_for",
    "handle_errors",
    "hint_for",
    "option_error",
    "print_json",
    "set_cli_state",
    "usage_error",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_TRANSIENT = 4
EXIT_INTERRUPTED = 130

#: The notice printed on stderr when no token is configured (one of
#: :attr:`BackendChoice.notice`'s forms; each says exactly why the local backend is used).
LOCAL_NOTICE = "no CODEGEN_API_TOKEN set: using the embedded local backend"
LOCAL_DB_ENV_VAR = "CODEGEN_LOCAL_DB"
_CHOICE_HINT = (
    "the real API needs CODEGEN_API_TOKEN and CODEGEN_ORG_ID (or --token/--org-id); the "
    "embedded local backend runs with --local, or by itself only outside CI with no token "
    "variable set"
)
_MAX_LINE = 400

P = ParamSpec("P")
R = TypeVar("R")


# -- state -------------------------------------------------------------------------------
@dataclass
class CliState:
    """Per-invocation settings from the root command (``ctx.obj``).

    Attributes:
        debug: show tracebacks for errors (``--debug``).
        interrupt_hint: what to tell the user after Ctrl-C (for example the command that
            resumes); a command sets it once it knows.
        name_links: applied to printed text holding links; an in-process backend names
            its own links instead, since nothing serves their pages.
    """

    debug: bool = False
    interrupt_hint: str | None = None
    name_links: Callable[[str], str] = field(default=lambda text: text)

    @property
    def out(self) -> Console:
        """Rich console on stdout (looked up at call time, so test runners capture it)."""
        return Console(file=sys.stdout, highlight=False, soft_wrap=False)

    @property
    def err(self) -> Console:
        """Rich console on stderr."""
        return Console(file=sys.stderr, highlight=False)


# A context variable rather than ``ctx.obj``: typer vendors its own click in recent
# versions, so the click context API is not a stable thing to import.
_STATE: contextvars.ContextVar[CliState] = contextvars.ContextVar("codegen_graph_cli_state")


def set_cli_state(state: CliState) -> None:
    """Install the state of a new invocation (the root command does this)."""
    _STATE.set(state)


def cli_state() -> CliState:
    """The :class:`CliState` of the running invocation (created on first use)."""
    state = _STATE.get(None)
    if state is None:
        state = CliState()
        _STATE.set(state)
    return state


# -- errors ------------------------------------------------------------------------------
def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an exception (see the module docstring)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, ConfigurationError):
        return EXIT_USAGE
    if isinstance(exc, AgentRunFailedError):
        return EXIT_FAILED
    if isinstance(exc, CodegenError):
        return EXIT_TRANSIENT if exc.is_transient else EXIT_API
    return EXIT_FAILED


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."


def hint_for(exc: BaseException) -> str:
    """One line telling the user what to do about ``exc``."""
    # Commands may attach a precise hint (``exc.cli_hint``); otherwise one per class.
    custom = getattr(exc, "cli_hint", None)
    if isinstance(custom, str):
        return custom
    if isinstance(exc, CodegenError):
        return cli_hint(exc)  # the table shared with the tools (codegen_graph._error_text)
    return "this is a bug in codegen-graph: rerun with --debug and report it"


def usage_error(message: str, hint: str) -> ConfigurationError:
    """A :class:`ConfigurationError` carrying the CLI's hint for it (exit code 2)."""
    exc = ConfigurationError(message)
    exc.cli_hint = hint  # type: ignore[attr-defined]
    return exc


def option_error(option: str, problem: str, takes: str) -> ConfigurationError:
    """A bad value for ``option``: the hint names the option and the values it takes."""
    return usage_error(f"{option} {problem}", f"{option} takes {takes}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CodegenError):
        return _one_line(str(exc)) or type(exc).__name__
    return _one_line(f"unexpected {type(exc).__name__}: {exc}")


def report_error(exc: BaseException, state: CliState) -> int:
    """Print ``exc`` as an error line and a hint line on stderr; return the exit code."""
    if state.debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    print(f"error: {_describe(exc)}", file=sys.stderr)
    print(f"hint: {hint_for(exc)}", file=sys.stderr)
    return exit_code_for(exc)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command: errors become two lines on stderr and a documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        state = cli_state()
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            if state.interrupt_hint:
                print(f"hint: {state.interrupt_hint}", file=sys.stderr)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            raise typer.Exit(report_error(exc, state)) from None

    return wrapper


def print_json(data: Any) -> None:
    """Write ``data`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


# -- options -----------------------------------------------------------------------------
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="Codegen API root (default: CODEGEN_API_BASE_URL or https://api.codegen.com).",
        show_default=False,
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Codegen API token (default: CODEGEN_API_TOKEN; prefer the variable, "
        "command lines are visible to other users). Never printed.",
        show_default=False,
    ),
]
OrgIdOpt = Annotated[
    int | None,
    typer.Option("--org-id", help="Organisation id (default: CODEGEN_ORG_ID).", show_default=False),
]
TimeScaleOpt = Annotated[
    float,
    typer.Option(
        "--time-scale",
        help="Local backend only: simulated seconds per real second.",
    ),
]
LocalDbOpt = Annotated[
    str | None,
    typer.Option(
        "--local-db",
        help="Local backend only: SQLite file keeping its runs between commands "
        "(default: CODEGEN_LOCAL_DB, else in memory).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
LocalOpt = Annotated[
    bool,
    typer.Option(
        "--local",
        help="Use the embedded local backend on purpose (also CODEGEN_GRAPH_LOCAL=1). "
        "Without it the local backend is used only outside CI when no token is set.",
    ),
]

#: The backend options every API command takes, by parameter name: (alias, default).
_BACKEND_OPTIONS: dict[str, tuple[Any, Any]] = {
    "base_url": (BaseUrlOpt, None),
    "token": (TokenOpt, None),
    "org_id": (OrgIdOpt, None),
    "time_scale": (TimeScaleOpt, DEFAULT_TIME_SCALE),
    "local_db": (LocalDbOpt, None),
    "local": (LocalOpt, False),
}


def backend_options(
    *, without: tuple[str, ...] = ()
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give a command the shared backend options; it receives them as ``options``.

    The options (``--base-url``, ``--token``, ``--org-id``, ``--time-scale``,
    ``--local-db``, ``--local``) are defined once, in :data:`_BACKEND_OPTIONS`, and stay
    where users type them: after the command (``codegen-graph runs list --local``). The
    decorated function declares ``options: BackendOptions = FROM_OPTIONS`` instead of six
    parameters; Typer reads the options from the wrapper's signature. ``without`` names
    options the command declares itself (its own ``--time-scale``, say); they keep the
    field's default.
    """
    shared = {name: spec for name, spec in _BACKEND_OPTIONS.items() if name not in without}

    def decorate(func: Callable[..., R]) -> Callable[..., R]:
        signature = inspect.signature(func, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "options"]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=alias
            )
            for name, (alias, default) in shared.items()
        ]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            chosen = {name: kwargs.pop(name, default) for name, (_, default) in shared.items()}
            return func(*args, options=BackendOptions(**chosen), **kwargs)

        params = [*own, *added]
        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params} | {
            "return": signature.return_annotation
        }
        return wrapper

    return decorate


# -- backends ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BackendOptions:
    """What the user asked for; resolved against the environment by :class:`Backend`."""

    base_url: str | None = None
    token: str | None = None
    org_id: int | None = None
    time_scale: float = DEFAULT_TIME_SCALE
    local_db: str | None = None
    scenario: str | None = None
    local: bool = False
    writes_outside: str | None = None

    def choice(self) -> BackendChoice:
        """Real API or embedded backend, by :func:`codegen_graph.backend.choose_backend`.

        Raises:
            ConfigurationError: it would be a silent fallback where none is allowed (CI,
                an empty token variable, a command that writes outside).
        """
        try:
            return choose_backend(
                token=self.token,
                base_url=self.base_url,
                local=self.local,
                writes_outside=self.writes_outside,
            )
        except ConfigurationError as exc:
            exc.cli_hint = _CHOICE_HINT  # type: ignore[attr-defined]
            raise

    @property
    def is_local(self) -> bool:
        """Whether :meth:`choice` picks the embedded backend."""
        return self.choice().local

    @property
    def local_db_path(self) -> str | None:
        """Where the embedded backend keeps its runs (``--local-db`` / CODEGEN_LOCAL_DB)."""
        return self.local_db or os.environ.get(LOCAL_DB_ENV_VAR) or None

    def __repr__(self) -> str:  # the token never shows
        return (
            f"BackendOptions(base_url={self.base_url!r}, token={'***' if self.token else None}, "
            f"org_id={self.org_id!r}, time_scale={self.time_scale!r}, "
            f"local_db={self.local_db!r}, local={self.local!r})"
        )


class Backend:
    """Where commands send their requests: the Codegen API, or the embedded local backend.

    The choice is :func:`codegen_graph.backend.choose_backend`'s: the local backend with
    ``--local``, or outside CI when neither a token (``--token`` / ``CODEGEN_API_TOKEN``)
    nor a base URL (``--base-url`` / ``CODEGEN_API_BASE_URL``) is configured; it is
    announced on stderr with the reason. Use as a context manager; clients made by
    :meth:`client` and :meth:`async_client` are closed by the caller.

    Args:
        options: the command's backend options.
        announce: where the local-backend notice goes (default: a line on stderr).

    Examples:
        >>> with Backend(BackendOptions(time_scale=60)) as backend:  # doctest: +SKIP
        ...     with backend.client() as client:
        ...         run = client.agent_runs.create_and_wait("Add a /health endpoint")

    Attributes:
        local: the in-process backend, or ``None`` when talking to a real API.
    """

    def __init__(self, options: BackendOptions, *, announce: Callable[[str], Any] | None = None):
        self.options = options
        self.local: LocalCodegen | None = None
        choice = options.choice()
        if not choice.local:
            _check_settings(options)
            return
        if not options.time_scale > 0:
            raise option_error(
                "--time-scale", f"must be > 0, got {options.time_scale:g}", TIME_SCALE_TAKES
            )
        local_cls = local_backend_class()
        scenario = _scenario(options.scenario)  # checked before anything is created
        (announce or _stderr)(choice.notice)
        try:
            # Its organization is its own (stored with --local-db): --org-id is checked
            # against it on each request, a 403 for another, as `serve` answers.
            self.local = local_cls(
                time_scale=options.time_scale, db=options.local_db_path, scenario=scenario
            )
        except ValueError as exc:
            raise ConfigurationError(f"local backend: {exc}") from None
        cli_state().name_links = self.local.name_links

    @property
    def is_local(self) -> bool:
        """Whether requests go to the embedded local backend."""
        return self.local is not None

    def client(self, **kwargs: Any) -> CodegenClient:
        """A new sync client for this backend (keyword arguments go to the client)."""
        if self.local is not None:
            return self.local.client(self.options.org_id, **kwargs)
        from .. import CodegenClient

        o = self.options
        return CodegenClient(o.token, o.org_id, base_url=o.base_url, **kwargs)

    def async_client(self, **kwargs: Any) -> AsyncCodegenClient:
        """A new async client for this backend."""
        if self.local is not None:
            return self.local.async_client(self.options.org_id, **kwargs)
        from .. import AsyncCodegenClient

        o = self.options
        return AsyncCodegenClient(o.token, o.org_id, base_url=o.base_url, **kwargs)

    def close(self) -> None:
        """Close the local backend, if any (its ``--local-db`` keeps the simulated time)."""
        if self.local is not None:
            self.local.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


#: The default of a command's ``options`` parameter; :func:`backend_options` always
#: passes the options the user typed instead.
FROM_OPTIONS = BackendOptions()


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


TIME_SCALE_TAKES = "simulated seconds per real second, a number > 0 (default 60)"

#: The real API's settings: the library's argument, the CLI's option, the check, the hint.
_SETTINGS: tuple[tuple[str, str, Callable[[BackendOptions], object], str], ...] = (
    (
        "token",
        "--token",
        lambda o: TokenSource(o.token),
        "set CODEGEN_API_TOKEN (or pass --token) to a token from Codegen's settings; "
        "--local uses the embedded backend instead",
    ),
    (
        "org_id",
        "--org-id",
        lambda o: resolve_org_id(o.org_id),
        "pass --org-id N or set CODEGEN_ORG_ID=N (your organisation's id in Codegen's settings)",
    ),
    (
        "base_url",
        "--base-url",
        lambda o: resolve_base_url(o.base_url),
        "fix --base-url or CODEGEN_API_BASE_URL, or unset both for https://api.codegen.com",
    ),
)


def _check_settings(options: BackendOptions) -> None:
    """Check the real API's settings before anything starts, worded for the command line
    (the library's messages say ``org_id=...`` where the CLI has ``--org-id``)."""
    for _, _, check, hint in _SETTINGS:
        try:
            check(options)
        except ConfigurationError as exc:
            text = str(exc)
            for argument, option, _, _ in _SETTINGS:
                text = text.replace(f"{argument}=...", option)
            raise usage_error(text, hint) from None


def _scenario(name: str | None) -> Any:
    """The ``--scenario`` loaded, or a usage error naming the bundled ones."""
    if name is None:
        return None
    from ..local import bundled_scenarios, load_scenario

    try:
        return load_scenario(name)
    except ValueError as exc:
        takes = "a scenario file (JSON or YAML) or a bundled name: " + ", ".join(
            bundled_scenarios()
        )
        problem = (
            f"is not usable: {exc}"
            if Path(name).exists()
            else f"{name!r} is neither a file nor a bundled scenario"
        )
        raise option_error("--scenario", problem, takes) from None
