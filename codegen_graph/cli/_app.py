"""The typer application behind ``codegen-graph``."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from .._config import check_token
from .._exceptions import ConfigurationError
from .._version import __version__
from ._common import CliState, set_cli_state
from ._github import review_pr
from ._gitlab import review_mr
from ._run import run_command
from ._runs import runs_app

#: ``-h`` works wherever ``--help`` does (click hands the names down to every subcommand).
HELP_OPTION_NAMES = ["--help", "-h"]


def _plain_flags(command: Any) -> None:
    """Show on/off flags without a value type in help (typer's rich help prints ``<bool>``
    for them, as if ``--json`` took a value)."""
    ctx = typer.Context(command, help_option_names=HELP_OPTION_NAMES)
    help_option = command.get_help_option(ctx)  # made once per command, then cached
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if getattr(param, "is_flag", False) and not getattr(param, "count", False):
            param.metavar = ""
    for sub in (getattr(command, "commands", None) or {}).values():
        _plain_flags(sub)


class _Group(TyperGroup):
    """The root group: fixes the flags' help (see :func:`_plain_flags`) before parsing."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        _plain_flags(self)
        return super().main(*args, **kwargs)


app = typer.Typer(
    name="codegen-graph",
    cls=_Group,
    help="Codegen cloud coding agents in LangGraph: runs, reviews, the local backend.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": HELP_OPTION_NAMES},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"codegen-graph {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Codegen cloud coding agents as LangGraph citizens.

    Without CODEGEN_API_TOKEN the commands use the embedded local backend. Exit codes:
    0 ok, 1 run failed, 2 usage or configuration, 3 API refused, 4 transient, 130 interrupted.
    """
    set_cli_state(CliState(debug=debug))
    _quiet_library_logs(ctx, debug)


def _quiet_library_logs(ctx: typer.Context, debug: bool) -> None:
    """Keep stderr to the one error line: library warnings (retries...) only with --debug."""
    logger = logging.getLogger("codegen_graph")
    level, handler = logger.level, None
    if debug:
        handler = logging.StreamHandler()  # stderr, looked up when the handler is made
        handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    else:
        logger.setLevel(logging.ERROR)

    def restore() -> None:
        logger.setLevel(level)
        if handler is not None:
            logger.removeHandler(handler)

    ctx.call_on_close(restore)


app.command("run")(run_command)
app.add_typer(runs_app, name="runs")
app.command("review-pr")(review_pr)
app.command("review-mr")(review_mr)


def _undecodable_argument(argv: list[str]) -> str | None:
    """The error line for the first argument that was not valid UTF-8, or ``None``.

    Python hands such bytes over as lone surrogates (``surrogateescape``); caught here, at
    the door, they are one clear error instead of a failure deep inside a command.
    """
    for number, arg in enumerate(argv, start=1):
        for index, ch in enumerate(arg):
            if "\udc80" <= ch <= "\udcff":
                byte = ord(ch) - 0xDC00
                return (
                    f"error: argument {number} is not valid UTF-8 (byte 0x{byte:02x} at "
                    f"position {index}); pass text encoded as UTF-8"
                )
    return None


def main() -> None:
    """Console-script entry point."""
    problem = _undecodable_argument(sys.argv[1:])
    if problem is not None:
        print(problem, file=sys.stderr)
        print(
            "hint: the shell or script passed bytes in another encoding; convert them "
            "(for example with iconv -t UTF-8) or set a UTF-8 locale",
            file=sys.stderr,
        )
        raise SystemExit(2)
    app()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
    port: int = typer.Option(8787, help="TCP port."),
    token: str | None = typer.Option(
        None,
        envvar="CODEGEN_LOCAL_TOKEN",
        help="API token to accept (default: CODEGEN_LOCAL_TOKEN, else generated). Prefer the "
        "variable: command lines are visible to other users.",
    ),
    org_id: int | None = typer.Option(None, "--org-id", help="Organization id (generated)."),
    time_scale: float = typer.Option(1.0, "--time-scale", help="Simulated seconds per second."),
    scenario: str | None = typer.Option(None, help="Scenario file (JSON/YAML) or bundled name."),
    db: str | None = typer.Option(None, help="SQLite file keeping runs and logs across restarts."),
    faults: str | None = typer.Option(None, help="Fault injection: inline JSON or a JSON file."),
    rate_limits: bool = typer.Option(True, help="Enforce the documented rate limits."),
    quota: int | None = typer.Option(None, help="Runs allowed before create answers 402."),
) -> None:
    """Serve the local Codegen API (spec-faithful, offline) with uvicorn."""
    try:
        from ..local import serve as serve_local
    except ImportError:
        typer.echo(
            "error: the local backend needs FastAPI and uvicorn: "
            "install the local extra (from a checkout: pip install '.[local]')",
            err=True,
        )
        raise typer.Exit(1) from None
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        typer.echo(
            "error: uvicorn is missing: install the local extra "
            "(from a checkout: pip install '.[local]')",
            err=True,
        )
        raise typer.Exit(1) from None
    if token is None and "CODEGEN_LOCAL_TOKEN" in os.environ:
        token = os.environ["CODEGEN_LOCAL_TOKEN"]  # set but empty: say so, do not generate
    if token is not None:  # stripped and checked like the client does (a trailing newline
        # from `export CODEGEN_LOCAL_TOKEN=$(cat file)` made every request a 401)
        try:
            token = check_token(token, "--token (or CODEGEN_LOCAL_TOKEN)")
        except ConfigurationError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    try:
        serve_local(
            host=host,
            port=port,
            token=token,
            org_id=org_id,
            time_scale=time_scale,
            scenario=scenario,
            db=db,
            faults=faults,
            rate_limits=rate_limits,
            quota=quota,
            echo=typer.echo,
        )
    except ValueError as exc:  # bad --faults / --scenario / --time-scale
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
