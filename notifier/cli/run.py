"""`notifier run [--once]` and `notifier worker`."""

from __future__ import annotations

from typing import Annotated

import typer

from notifier.cli.shell import run_async, say, state


def _logging(verbose: bool) -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO, and a Bot API URL contains the bot token.
    for noisy in ("apscheduler", "alembic", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="One pass: watch, due digests, deliver; then exit.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """Run notifier: watch for new updates, build digests on schedule, deliver messages.
    Ctrl-C or SIGTERM stops it cleanly (sends under way finish first)."""
    from notifier.service import Service, pipeline, run_once  # the whole service: load on use

    settings = state(ctx).settings
    _logging(not quiet)

    async def go() -> None:
        async with pipeline(settings, role="run --once" if once else "run") as p:
            if once:
                report = await run_once(p)
                w, d, s = report.watch, report.digests, report.delivery
                say(
                    f"watched {w.updates} new update(s), queued {w.alerts} alert(s); "
                    f"digests: {d.digests - d.empty} built, {d.messages} message(s); "
                    f"delivered {s.sent}, retry {s.retried}, failed {s.failed}, "
                    f"suppressed {s.suppressed}"
                )
                for error in s.errors[:10]:
                    say(f"  error {error}")
                return
            mail = "SMTP" if settings.smtp_url else str(settings.mail_dir)
            telegram = (
                "the Bot API (and the bot answers)"
                if settings.telegram_bot_token
                else str(settings.telegram_transcript)
            )
            say(
                f"notifier running on {p.store.location}: email to {mail}, Telegram to "
                f"{telegram}, web on http://{settings.web_host}:{settings.web_port}; Ctrl-C stops"
            )
            await Service(p).run()
            say("notifier stopped")

    run_async(go())


def worker(
    ctx: typer.Context,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """Deliver only (no watching, no digests): run as many as you like against one PostgreSQL
    store to send faster; each message is claimed by exactly one of them."""
    from notifier.service import Service, pipeline

    settings = state(ctx).settings
    _logging(not quiet)

    async def go() -> None:
        async with pipeline(settings, role="worker") as p:
            await Service(p, deliver_only=True).run()

    run_async(go())


def web(
    ctx: typer.Context,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """Serve the web app alone (unsubscribe links, /healthz, /metrics), without sending."""
    import asyncio
    import signal

    from notifier.senders import email_sender
    from notifier.store.engine import open_store
    from notifier.web.app import create_app, serve

    settings = state(ctx).settings
    _logging(not quiet)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with open_store(settings) as store:
            say(f"notifier web on http://{settings.web_host}:{settings.web_port}; Ctrl-C stops")
            app = create_app(settings, store, email_sender=lambda: email_sender(settings))
            await serve(app, settings, stop)

    run_async(go())
