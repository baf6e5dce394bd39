"""`notifier config show` and `notifier db upgrade`."""

from __future__ import annotations

from typing import Annotated

import typer

from notifier.cli.shell import print_json, run_async, say, state, table

config_app = typer.Typer(help="Settings.", no_args_is_help=True)
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)


@config_app.command("show")
def config_show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective settings (defaults < notifier.toml < NOTIFIER_*), secrets masked,
    and which settings file they come from."""
    current = state(ctx)
    shown = current.settings.masked()
    if as_json:
        print_json(shown)
    else:
        say(current.source.describe())
        table(None, ["setting", "value"], [[k, v] for k, v in shown.items()])


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Bring an existing store's schema to the latest version (commands that need the store do
    this too). It does not create a store where there is none: `notifier init` does."""
    from notifier.store.engine import migrate_schema, open_store

    settings = state(ctx).settings

    async def go() -> tuple[str | None, str | None]:
        async with open_store(settings, migrate=False) as store:
            return await migrate_schema(store.engine, create=False)

    before, after = run_async(go())
    if before == after:
        say(f"schema already at {after}")
    else:
        say(f"schema upgraded from {before or 'empty'} to {after}")
