"""`notifier digest preview|send`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notifier.cli.shell import run_async, run_with_store, say, state
from notifier.errors import InputError

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.store.engine import Store

app = typer.Typer(help="Digests: preview and send.", no_args_is_help=True)


@app.command()
def preview(
    ctx: typer.Context,
    mailing_list: Annotated[str | None, typer.Option("--list", help="A list's slug.")] = None,
    subscriber: Annotated[
        str | None, typer.Option("--subscriber", help="An email address.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, html or telegram.")] = "text",
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    recent: Annotated[
        int, typer.Option(help="Preview with the N latest matching updates, whatever was sent.")
    ] = 0,
) -> None:
    """Show the next digest as it stands now (nothing is written or sent). Template errors are
    reported with file and line."""
    if (mailing_list is None) == (subscriber is None):
        raise InputError.single("digest preview", "--list/--subscriber", "give exactly one")
    if fmt not in {"text", "html", "telegram"}:
        raise InputError.single(
            "digest preview", "--format", f"{fmt!r}: use text, html or telegram"
        )
    from notifier.domain import Channel
    from notifier.links import Links
    from notifier.preview import preview_list, preview_subscriber
    from notifier.render.messages import Renderer
    from notifier.render.templates import check_templates
    from notifier.store.models import utcnow

    channel = Channel.TELEGRAM if fmt == "telegram" else Channel.EMAIL

    async def job(store: Store, settings: Settings) -> None:
        renderer = Renderer(settings)
        check_templates(renderer.env)
        now = utcnow()
        if mailing_list is not None:
            message, why = await preview_list(
                store, renderer, mailing_list, channel, now=now, recent=recent
            )
        else:
            assert subscriber is not None
            message, why = await preview_subscriber(
                store, renderer, Links.from_settings(settings), subscriber, channel,
                now=now, recent=recent,
            )  # fmt: skip
        if message is None:
            say(why)
            return
        if fmt == "html":
            text = message.html
        elif fmt == "text":
            text = f"Subject: {message.subject}\n\n{message.text}"
        else:
            text = message.text
        if out is not None:
            out.write_text(text, encoding="utf-8")
            say(f"wrote {out}")
        else:
            typer.echo(text, nl=False)

    run_with_store(ctx, job)


@app.command()
def send(
    ctx: typer.Context,
    mailing_list: Annotated[str, typer.Option("--list", help="The list's slug.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would go; send nothing.")
    ] = False,
) -> None:
    """Send a list's digest now, with everything since its last digest. The scheduled digest
    still comes on its usual day with what is new by then; running this twice sends nothing
    twice."""

    from notifier.digests import send_list_digest_now
    from notifier.service import pipeline
    from notifier.store.models import utcnow
    from notifier.store.subscribers import get_list

    settings = state(ctx).settings

    async def go() -> None:
        async with pipeline(settings) as p:
            now = utcnow()
            async with p.store.sessions() as session, session.begin():
                found = await get_list(session, mailing_list, follows=True)
                report = await send_list_digest_now(session, p.renderer, found, now=now)
                if dry_run:
                    await session.rollback()
            prefix = "(dry run) " if dry_run else ""
            if report.digests == 0:
                say(
                    f"{prefix}{mailing_list}: its last digest already covers this moment; "
                    "nothing to send"
                )
                return
            if report.empty:
                say(f"{prefix}{mailing_list}: nothing new since the last digest; nothing to send")
                return
            if dry_run:
                say(
                    f"(dry run) {mailing_list}: would queue {report.messages} message(s); "
                    "nothing was queued or sent"
                )
                return
            say(f"{mailing_list}: {report.messages} message(s) queued")
            delivery = await p.deliverer.drain()
            say(f"delivered {delivery.sent}, retry {delivery.retried}, failed {delivery.failed}")

    run_async(go())
