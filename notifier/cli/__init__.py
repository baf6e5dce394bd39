"""The `notifier` command: a thin shell over the store and ingest functions.

Start-up time: `notifier --help` must answer at once, so importing this package loads Typer,
Rich and the command declarations only. Command modules import what is heavy (SQLAlchemy, the
store, pydantic-settings, FastAPI, python-telegram-bot, the service) inside the command that
needs it. That is the one place the project allows an import inside a function, and only for
start-up time; tests/test_cli_startup.py checks that `import notifier.cli` and `--help` load
none of them, and `python -m bench.cli` measures the start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from notifier import __version__
from notifier.cli import (
    admin,
    bounces,
    cases,
    digest,
    init,
    lists,
    outbox,
    run,
    status,
    subscribers,
    updates,
)
from notifier.cli.shell import State, report_error
from notifier.errors import NotifierError


class _ReportingGroup(TyperGroup):
    """Turns notifier's own errors into a clear message on stderr and exit status 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except NotifierError as exc:
            current = ctx.obj if isinstance(ctx.obj, State) else None
            report_error(exc, current)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="notifier",
    cls=_ReportingGroup,
    help="Alerts and digests about people persecuted for their faith, by email and Telegram.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("init")(init.init)
app.add_typer(cases.app, name="cases")
app.add_typer(updates.app, name="updates")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(lists.app, name="lists")
app.add_typer(admin.config_app, name="config")
app.add_typer(admin.db_app, name="db")
app.add_typer(digest.app, name="digest")
app.add_typer(outbox.app, name="outbox")
app.add_typer(bounces.app, name="bounces")
app.command("run")(run.run)
app.command("worker")(run.worker)
app.command("web")(run.web)
app.command("status")(status.status)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"notifier {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Settings file (default: $NOTIFIER_CONFIG, else notifier.toml in this folder "
            "or the nearest folder above it).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    ctx.obj = State(config_file=config)


def main() -> None:
    app()
