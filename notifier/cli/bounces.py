"""`notifier bounces process`: read the bounce Maildir once (what `notifier run` does every
minute), for a cron job or to see what it finds."""

from __future__ import annotations

import typer

from notifier.cli.shell import print_json, run_with_store, say
from notifier.cli.subscribers import JsonOption
from notifier.config import Settings
from notifier.errors import InputError
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

        if settings.bounce_maildir is None or settings.bounce_address is None:
            raise InputError.single(
                "bounces process", "bounce_maildir", "set bounce_address and bounce_maildir"
            )
        verp = Verp(settings.bounce_address, load_secret(settings))
        soft = SoftBounces(
            settings.bounce_soft_limit, timedelta(days=settings.bounce_soft_reset_days)
        )
        report = await process_bounces(store, settings.bounce_maildir, verp, soft=soft)
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
