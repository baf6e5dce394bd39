"""What every command shares: settings, the store, JSON or table output, error reports."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from notifier.errors import InputError, NotifierError, StoreNotFound

if TYPE_CHECKING:
    from rich.console import Console

    from notifier.config import ConfigSource, Settings
    from notifier.domain.actors import Actor
    from notifier.store.engine import Store

T = TypeVar("T")


@cache
def console(*, stderr: bool = False) -> Console:
    """Rich consoles for stdout and stderr, made on first use (`--help` needs neither)."""
    from rich.console import Console

    if stderr:
        return Console(stderr=True, highlight=False, soft_wrap=True)
    made = Console(highlight=False)
    if not made.is_terminal:
        # Piped or captured output is read by people and tools alike; do not squeeze it to 80.
        made.width = 160
    return made


def os_user() -> str:
    """Who runs the command, as the operating system says ("unknown" if it cannot)."""
    import getpass

    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError, ImportError):
        return "unknown"


@cache
def cli_actor() -> Actor:
    """Who every write of the CLI is made by, in the audit log: `cli:<os user>`, an owner."""
    from notifier.domain.actors import Actor

    return Actor.cli(os_user())


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, with asyncio loaded only by the commands that run something."""
    import asyncio

    return asyncio.run(main)


@dataclass
class State:
    config_file: Path | None
    _source: ConfigSource | None = field(default=None, repr=False)
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def source(self) -> ConfigSource:
        """The settings file read (or none), and how it was chosen."""
        if self._source is None:
            from notifier.config import locate_config

            self._source = locate_config(self.config_file, os.environ)
        return self._source

    @source.setter
    def source(self, value: ConfigSource) -> None:
        self._source, self._settings = value, None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from notifier.config import settings_from

            self._settings = settings_from(self.source, os.environ)
        return self._settings


def state(ctx: typer.Context) -> State:
    found = ctx.find_object(State)
    return found if found is not None else State(config_file=None)


def run_with_store(ctx: typer.Context, job: Callable[[Store, Settings], Awaitable[T]]) -> T:
    """Open (and migrate) the store, run `job`, close the store. A store that does not exist is
    an error (StoreNotFound), never quietly created: `notifier init` creates it."""
    from notifier.store.engine import open_store

    settings = state(ctx).settings

    async def _go() -> T:
        async with open_store(settings) as store:
            return await job(store, settings)

    return run_async(_go())


def store_hints(current: State) -> list[str]:
    """Why notifier looked where it did for the store, and how to create one or point to one."""
    source = current.source
    if "NOTIFIER_DATABASE_URL" in os.environ:
        why = "database_url from the environment variable NOTIFIER_DATABASE_URL"
    elif "NOTIFIER_DATA_DIR" in os.environ:
        why = "data_dir from the environment variable NOTIFIER_DATA_DIR"
    elif source.path is None:
        why = f"{source.describe()}, so data_dir is ./var, the default"
    else:
        why = source.describe()
    return [
        f"looked there because: {why}",
        "to create a store there: notifier init",
        "to use one that exists: run notifier in its folder (or one below it), pass --config "
        "FILE, or set NOTIFIER_CONFIG, NOTIFIER_DATA_DIR or NOTIFIER_DATABASE_URL",
    ]


def report_error(exc: NotifierError, current: State | None = None) -> None:
    err = console(stderr=True)
    if isinstance(exc, InputError):
        count = len(exc.problems)
        err.print(
            f"[red]error:[/red] {count} problem{'s' if count != 1 else ''} found:", markup=True
        )
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
        return
    err.print("[red]error:[/red] ", end="", markup=True)
    err.print(str(exc), markup=False)
    if isinstance(exc, StoreNotFound) and current is not None:
        for hint in store_hints(current):
            err.print(f"  {hint}", markup=False)


def print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    """A table for people. Every column has a name (a blank header reads as a missing value),
    and cells are shown as they are: a name like "Pastor [name withheld]" is not Rich markup."""
    from rich.table import Table
    from rich.text import Text

    assert all(c.strip() for c in columns), f"every column needs a header: {columns}"
    grid = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(Text("" if v is None else str(v)) for v in row))
    console().print(grid)


def say(text: str) -> None:
    # Piped or captured, one message is one line whatever its length: a path or an address
    # cut in two cannot be found with grep. In a terminal, Rich wraps prose between words.
    out = console()
    out.print(text, markup=False, soft_wrap=not out.is_terminal)
