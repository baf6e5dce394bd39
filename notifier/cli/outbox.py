"""`notifier outbox list|retry`: who did not get a message, and sending exactly those again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from notifier.cli.shell import cli_actor, print_json, run_with_store, say, table
from notifier.errors import InputError

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.store.engine import Store

app = typer.Typer(help="The outbox: every message, its status and its last error.")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="pending, sending, sent, retry, failed or suppressed.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="At most this many (1 to 1000), newest first.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List messages, newest first, with their recipient, attempts and last error."""
    from notifier import app as tasks
    from notifier.domain import OutboxStatus

    wanted = None
    if status is not None:
        try:
            wanted = OutboxStatus(status.lower())
        except ValueError:
            allowed = ", ".join(s.value for s in OutboxStatus)
            raise InputError.single(
                "outbox list", "--status", f"{status!r}: one of {allowed}"
            ) from None

    async def job(store: Store, _: Settings) -> None:
        data: list[dict[str, Any]] = [
            {
                "id": m.id,
                "channel": m.channel,
                "to": m.email if m.channel == "email" else m.telegram_chat_id,
                "key": m.key,
                "status": m.status,
                "attempts": m.attempts,
                "next_attempt_at": m.next_attempt_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "last_error": m.last_error,
            }
            for m in await tasks.outbox_messages(store, status=wanted, limit=limit)
        ]
        if as_json:
            print_json(data)
            return
        table(
            f"{len(data)} message{'s' if len(data) != 1 else ''}",
            ["id", "channel", "to", "key", "status", "attempts", "last error"],
            [[d["id"], d["channel"], d["to"], d["key"], d["status"], d["attempts"],
              d["last_error"]] for d in data],
        )  # fmt: skip

    run_with_store(ctx, job)


@app.command("retry")
def retry_(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Option("--id", help="A message id (repeat).")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed message.")] = False,
) -> None:
    """Send messages again: the given ids, or every failed one. Sent messages are never
    re-sent; a subscriber who unsubscribed or bounced still gets nothing."""
    from notifier import app as tasks

    if not ids and not failed:
        raise InputError.single("outbox retry", "--id/--failed", "name messages or give --failed")

    async def job(store: Store, _: Settings) -> None:
        count = await tasks.retry_messages(store, by=cli_actor(), ids=ids or [], failed=failed)
        say(f"{count} message(s) queued again; `notifier run` (or run --once) sends them")

    run_with_store(ctx, job)


@app.command("prune")
def prune_(
    ctx: typer.Context,
    older_than: Annotated[
        int | None, typer.Option(help="Days (default: the outbox_retention_days setting).")
    ] = None,
) -> None:
    """Delete finished messages (sent, failed, suppressed) older than the retention. `notifier
    run` does this once a day by itself."""
    from datetime import timedelta

    from notifier.store.models import utcnow
    from notifier.store.outbox import prune

    async def job(store: Store, settings: Settings) -> None:
        days = older_than if older_than is not None else settings.outbox_retention_days
        if days < 1:
            raise InputError.single("outbox prune", "--older-than", "at least 1 day")
        async with store.transaction() as session:
            count = await prune(session, before=utcnow() - timedelta(days=days))
        say(f"deleted {count} finished message(s) older than {days} day(s)")

    run_with_store(ctx, job)
