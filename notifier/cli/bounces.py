"""`notifier bounces process`: read the bounce Maildir once (what `notifier run` does every
minute), for a cron job or to see what it finds; `notifier bounces prune`: delete the reports
read (what `notifier run` does once a day)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notifier.cli.shell import print_json, run_with_store, say
from notifier.cli.subscribers import JsonOption
from notifier.errors import InputError

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.store.engine import Store

app = typer.Typer(help="Bounces that arrive after sending.", no_args_is_help=True)


@app.command()
def process(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Read the new messages in `bounce_maildir`; stop email to addresses that failed for good."""

    async def job(store: Store, settings: Settings) -> None:
        from datetime import timedelta

        from notifier.bounces.process import SoftBounces, process_bounces
        from notifier.bounces.verp import Verp
        from notifier.links import load_secret

        maildir = _maildir(settings, "bounces process")
        assert settings.bounce_address is not None
        verp = Verp(settings.bounce_address, load_secret(settings))
        soft = SoftBounces(
            settings.bounce_soft_limit, timedelta(days=settings.bounce_soft_reset_days)
        )
        report = await process_bounces(store, maildir, verp, soft=soft)
        if as_json:
            print_json(
                {
                    "read": report.read,
                    "bounced": report.bounced,
                    "temporary": report.temporary,
                    "not_bounces": report.not_bounces,
                    "unrecognised": report.unrecognised,
                    "problems": report.problems,
                }
            )
            return
        say(
            f"read {report.read}: {len(report.bounced)} address(es) bounced, "
            f"{report.temporary} temporary, {report.not_bounces} not bounces, "
            f"{report.unrecognised} not ours"
        )
        for address in report.bounced:
            say(f"  bounced {address}")
        for problem in report.problems:
            say(f"  problem {problem}")

    run_with_store(ctx, job)


def _maildir(settings: Settings, command: str) -> Path:
    if settings.bounce_maildir is None or settings.bounce_address is None:
        raise InputError.single(command, "bounce_maildir", "set bounce_address and bounce_maildir")
    return settings.bounce_maildir


@app.command()
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        int | None, typer.Option(help="Days (default: the bounce_retention_days setting).")
    ] = None,
) -> None:
    """Delete the bounce reports already read that arrived more than the retention ago; unread
    ones stay. `notifier run` does this once a day by itself."""

    async def job(_: Store, settings: Settings) -> None:
        import asyncio
        from datetime import timedelta

        from notifier.bounces.process import prune_reports
        from notifier.store.models import utcnow

        maildir = _maildir(settings, "bounces prune")
        days = older_than if older_than is not None else settings.bounce_retention_days
        if days < 1:
            raise InputError.single("bounces prune", "--older-than", "at least 1 day")
        before = utcnow() - timedelta(days=days)
        count = await asyncio.to_thread(prune_reports, maildir, before)
        say(f"deleted {count} report(s) read, older than {days} day(s)")

    run_with_store(ctx, job)
