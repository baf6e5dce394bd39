"""What every command shares: settings, the store, JSON or table output, error reports."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from notifier.config import Settings, load_settings
from notifier.errors import InputError, NotifierError
from notifier.store.engine import Store, open_store

T = TypeVar("T")

out = Console(highlight=False)
if not out.is_terminal:
    # Piped or captured output is read by people and tools alike; do not squeeze it to 80.
    out.width = 160
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class State:
    config_file: Path | None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings


def state(ctx: typer.Context) -> State:
    found = ctx.find_object(State)
    return found if found is not None else State(config_file=None)


def run_with_store(ctx: typer.Context, job: Callable[[Store, Settings], Awaitable[T]]) -> T:
    """Open (and migrate) the store, run `job`, close the store."""
    settings = state(ctx).settings

    async def _go() -> T:
        async with open_store(settings) as store:
            return await job(store, settings)

    return asyncio.run(_go())


def report_error(exc: NotifierError) -> None:
    if isinstance(exc, InputError):
        count = len(exc.problems)
        err.print(
            f"[red]error:[/red] {count} problem{'s' if count != 1 else ''} found:", markup=True
        )
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
    else:
        err.print("[red]error:[/red] ", end="", markup=True)
        err.print(str(exc), markup=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    grid = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
    out.print(grid)


def say(text: str) -> None:
    out.print(text, markup=False)
