"""`notifier config show` and `notifier db upgrade`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from notifier.cli.shell import print_json, say, state, table
from notifier.store.engine import create_engine
from notifier.store.migrate import upgrade

config_app = typer.Typer(help="Settings.", no_args_is_help=True)
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)


@config_app.command("show")
def config_show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective settings (defaults < notifier.toml < NOTIFIER_*), secrets masked."""
    shown = state(ctx).settings.masked()
    if as_json:
        print_json(shown)
    else:
        table(None, ["setting", "value"], [[k, v] for k, v in shown.items()])


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Bring the store's schema to the latest version (commands that need it do this too)."""
    settings = state(ctx).settings

    async def go() -> tuple[str | None, str | None]:
        engine = create_engine(settings.database_url)
        try:
            return await upgrade(engine)
        finally:
            await engine.dispose()

    before, after = asyncio.run(go())
    if before == after:
        say(f"schema already at {after}")
    else:
        say(f"schema upgraded from {before or 'empty'} to {after}")
