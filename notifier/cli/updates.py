"""`notifier updates add`: enter a new update for a case."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from notifier.cli.shell import run_with_store, say
from notifier.config import Settings
from notifier.errors import InputError
from notifier.store.cases import add_update, get_case
from notifier.store.engine import Store
from notifier.store.models import Severity

app = typer.Typer(help="Updates: news about a case.", no_args_is_help=True)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError.single(
            "updates add", "--date", f"{value!r} is not a date (YYYY-MM-DD)"
        ) from None


@app.command()
def add(
    ctx: typer.Context,
    case: Annotated[str, typer.Argument(help="Slug or any spelling of the name.")],
    title: Annotated[str, typer.Option(help="One line: what happened.")],
    source: Annotated[str, typer.Option(help="Who reported it, e.g. 'Open Doors'.")],
    on: Annotated[
        str | None, typer.Option("--date", help="When it happened (YYYY-MM-DD; default today).")
    ] = None,
    body: Annotated[
        str | None, typer.Option(help="The text; blank lines separate paragraphs.")
    ] = None,
    body_file: Annotated[
        Path | None, typer.Option(help="Read the text from this file ('-' for stdin).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Link to the source.")] = None,
    urgent: Annotated[
        bool, typer.Option("--urgent", help="Send at once even to digest readers.")
    ] = False,
) -> None:
    """Add an update to a case; subscribers hear of it on the next watch."""
    if body is not None and body_file is not None:
        raise InputError.single("updates add", "--body/--body-file", "give one, not both")
    if body_file is not None:
        try:
            text = (
                typer.get_text_stream("stdin").read()
                if str(body_file) == "-"
                else body_file.read_text(encoding="utf-8-sig")
            )
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError.single(str(body_file), "--body-file", f"cannot read: {exc}") from None
    else:
        text = body or ""
    if url is not None and not url.startswith(("http://", "https://")):
        raise InputError.single("updates add", "--url", f"{url!r} is not an http(s) link")
    day = _parse_date(on) if on else datetime.now().date()

    async def job(store: Store, _: Settings) -> None:
        async with store.transaction() as session:
            found = await get_case(session, case)
            update, created = await add_update(
                session,
                found,
                day=day,
                title=title,
                body=text,
                source_name=source.strip() or None,
                source_url=url,
                severity=Severity.URGENT if urgent else Severity.NORMAL,
            )
        if created:
            say(f"added update {update.id} to {found.slug}: {update.event_date} {update.title}")
        else:
            say(f"{found.slug} already has this update (id {update.id}); nothing changed")

    run_with_store(ctx, job)
