"""`notifier init`: create the store where the settings point (the only command that does)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from notifier.cli.shell import run_async, say, state
from notifier.errors import ConfigError


def init(
    ctx: typer.Context,
    config_file: Annotated[
        bool,
        typer.Option(
            "--config-file/--no-config-file",
            help="Write a starter notifier.toml here when no settings file is found "
            "(default), or not (settings from NOTIFIER_* variables only).",
        ),
    ] = True,
) -> None:
    """Create the data folder and the store, at the latest schema, where the settings point.

    Settings file: when none is found (none named by --config or NOTIFIER_CONFIG, no
    notifier.toml here or in a folder above), a starter ./notifier.toml is written first, so
    every later command run in this folder or below it finds this store. A file named by
    --config or NOTIFIER_CONFIG that does not exist yet is written there. An existing file is
    never changed.

    Running init again is harmless: it says what exists and brings an older store's schema up
    to date. On PostgreSQL (database_url) the database must exist (createdb); init gives it
    notifier's tables. Other commands never create a store: where there is none they say where
    they looked."""
    from notifier.config import ConfigSource
    from notifier.installation import config_to_write, initialise, write_starter

    current = state(ctx)
    source = current.source
    target = config_to_write(source, write=config_file)
    if target is not None:
        try:
            write_starter(target, os.environ)
        except OSError as exc:
            raise ConfigError(f"{target}: cannot write the settings file: {exc}") from None
        how = source.how if source.named else "found"
        current.source = ConfigSource(target, how, source.searched_from)
        say(f"settings: wrote {target} (a starter; edit it to send real email)")
    elif source.path is not None:
        say(f"settings: {source.path} (exists; left as it is)")
    else:
        say(f"settings: {source.describe()}; defaults and NOTIFIER_* variables")

    report = run_async(initialise(current.settings))
    say(f"data folder: {'created ' if report.data_dir_created else ''}{report.data_dir}")
    if report.created:
        say(f"store: created {report.store} (schema {report.schema_after})")
    elif report.schema_before == report.schema_after:
        say(f"store: {report.store} exists (schema {report.schema_after}, the latest)")
    else:
        say(
            f"store: {report.store} exists; schema upgraded from {report.schema_before} "
            f"to {report.schema_after}"
        )
    if report.secret_created is not None:
        say(f"link-signing key: created {report.secret_created}")
    if report.created:
        say("next: notifier cases import --sample, notifier subscribers add …, notifier run")
