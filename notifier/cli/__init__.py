"""The `notifier` command: a thin shell over the application layer (notifier.app).

Start-up time: `notifier --help` must answer at once. Importing this package loads Typer and
the few top-level commands; each command group (cases, subscribers, …) is imported only when
it is used, its one-line help kept in LAZY_GROUPS for `notifier --help`. Command modules
import what is heavy (SQLAlchemy, the store, pydantic-settings, FastAPI, python-telegram-bot,
the service, even asyncio and Rich) inside the command that needs it: the one place the
project allows an import inside a function, and only for start-up time.
tests/test_cli_startup.py checks that `import notifier.cli` and `--help` load none of them;
`python -m bench.cli` measures the start-up."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup

from notifier import __version__
from notifier.cli import admin, init, run, status
from notifier.cli.shell import State, report_error
from notifier.errors import NotifierError

#: Command groups imported on first use: name -> (module with a Typer `app`, its help). The
#: help is the module's own (a test keeps them equal); `notifier --help` shows it unloaded.
LAZY_GROUPS: dict[str, tuple[str, str]] = {
    "cases": ("notifier.cli.cases", "Cases: the people and groups notifier follows."),
    "updates": ("notifier.cli.updates", "Updates: news about a case."),
    "subscribers": (
        "notifier.cli.subscribers",
        "Subscribers: who hears about what, how often, where.",
    ),
    "lists": ("notifier.cli.lists", "Mailing lists (prayer chains)."),
    "digest": ("notifier.cli.digest", "Digests: preview and send."),
    "outbox": ("notifier.cli.outbox", "The outbox: every message, its status and its last error."),
    "bounces": ("notifier.cli.bounces", "Bounces that arrive after sending."),
    "users": ("notifier.cli.users", "Console users: owners, editors and list coordinators."),
    "audit": ("notifier.cli.audit", "The audit log: every write, by whom, when, and what changed."),
}

#: The order of `notifier --help`.
ORDER = (
    "init", "run", "worker", "web", "status", "cases", "updates", "subscribers", "lists",
    "config", "db", "digest", "outbox", "bounces", "users", "audit",
)  # fmt: skip


class _ReportingGroup(TyperGroup):
    """The root command: loads command groups when used, and turns notifier's own errors into a
    clear message on stderr and exit status 1."""

    def list_commands(self, ctx: Any) -> list[str]:
        known = [*self.commands, *LAZY_GROUPS]
        return sorted(known, key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_GROUPS and cmd_name not in self.commands:
            sub_app = importlib.import_module(LAZY_GROUPS[cmd_name][0]).app
            sub_app.rich_markup_mode = self.rich_markup_mode  # the root's plain help
            group = typer.main.get_group(sub_app)
            group.name = cmd_name
            self.commands[cmd_name] = group
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """Typer's listing, with each group not loaded yet described from LAZY_GROUPS."""
        rows: list[tuple[str, Any]] = []
        for name in self.list_commands(ctx):
            if name in LAZY_GROUPS and name not in self.commands:
                rows.append((name, TyperGroup(name=name, help=LAZY_GROUPS[name][1])))
            elif (command := self.get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command))
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, c.get_short_help_str(limit)) for name, c in rows])

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
    # Plain help: Typer's Rich help formatter alone takes longer to load than everything else
    # `notifier --help` needs.
    rich_markup_mode=None,
)
app.command("init")(init.init)
app.add_typer(admin.config_app, name="config")
app.add_typer(admin.db_app, name="db")
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
