"""`notifier audit list`: the audit log, every write by whom (owners' reading; the CLI acts as
an owner)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Annotated

import typer

from notifier.cli.shell import cli_actor, print_json, run_with_store, table
from notifier.errors import InputError

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.store.engine import Store

app = typer.Typer(help="The audit log: every write, by whom, when, and what changed.")

#: As `limits.AUDIT_PAGE` (not imported: `--help` loads nothing of the store's).
MOST = 1_000


def parse_since(text: str) -> datetime:
    """'2026-05-01' (from midnight UTC) or '2026-05-01T09:30[:00][+02:00]' (UTC if no offset)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError.single(
            "audit list",
            "--since",
            f"{text!r}: a date (2026-05-01) or a date and time (2026-05-01T09:30, UTC unless "
            "an offset is given)",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@app.command("list")
def list_(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(help="Only from this date (2026-05-01) or date and time (UTC) on."),
    ] = None,
    actor: Annotated[
        str | None, typer.Option(help="Only by this actor: cli:alice, user:a@example.org, …")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=MOST, help=f"At most this many (1 to {MOST}), newest first.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Who changed what, newest first."""
    from notifier import app as tasks

    start = parse_since(since) if since is not None else None
    if actor is not None and "\x00" in actor:
        raise InputError.single("audit list", "--actor", "contains a NUL character")

    async def job(store: Store, _: Settings) -> None:
        rows = await tasks.audit_entries(store, cli_actor(), since=start, actor=actor, limit=limit)
        if as_json:
            print_json([r.as_json() for r in rows])
            return
        table(
            f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}",
            ["when (UTC)", "who", "action", "target", "change"],
            [
                [
                    r.at.astimezone(UTC).isoformat(timespec="seconds"),
                    r.actor,
                    r.action,
                    r.target,
                    r.change_summary(),
                ]
                for r in rows
            ],
        )

    run_with_store(ctx, job)
