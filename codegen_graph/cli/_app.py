"""The typer application behind ``codegen-graph``."""

from __future__ import annotations

import typer

from .._version import __version__

app = typer.Typer(
    name="codegen-graph",
    help="Codegen cloud coding agents in LangGraph: run workflows, serve the local backend.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"codegen-graph {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Codegen cloud coding agents as LangGraph citizens."""


def main() -> None:
    """Console-script entry point."""
    app()
