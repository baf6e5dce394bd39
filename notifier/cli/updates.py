"""`notifier updates`: enter a new update for a case (`add`), see what went out about the
latest ones (`list`), correct one (`edit`), or withdraw one (`withdraw`)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notifier import app as tasks
from notifier import limits
from notifier.cli.shell import cli_actor, print_json, run_with_store, say, table
from notifier.domain.text_fields import check_text
from notifier.errors import InputError
from notifier.store.as_json import update_state_json
from notifier.store.updates import list_updates

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.store.engine import Store

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
UpdateId = Annotated[int, typer.Argument(help="The update's id (see `notifier updates list`).")]

app = typer.Typer(help="Updates: news about a case.", no_args_is_help=True)


def _parse_date(value: str, command: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError.single(
            command, "--date", f"{value!r} is not a date (YYYY-MM-DD)"
        ) from None


def _text(body: str | None, body_file: Path | None, command: str) -> str | None:
    """The text from --body or --body-file ('-': stdin); None if neither was given. What a
    file holds is checked here, so a problem names the file and its line."""
    if body is not None and body_file is not None:
        raise InputError.single(command, "--body/--body-file", "give one, not both")
    if body_file is None:
        return body
    name = "stdin" if str(body_file) == "-" else str(body_file)
    try:
        if str(body_file) == "-":
            text = typer.get_text_stream("stdin").read()
        else:
            text = body_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.single(name, "--body-file", f"cannot read: {exc}") from None
    try:
        # Checked as the file is (not stripped), so a place in it is its line and column.
        return check_text(text, limit=limits.BODY, single_line=False)
    except ValueError as exc:
        raise InputError.single(name, "--body-file", str(exc)) from None


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
    text = _text(body, body_file, "updates add") or ""
    day = _parse_date(on, "updates add") if on else datetime.now().date()

    async def job(store: Store, _: Settings) -> None:
        added = await tasks.add_update(
            store, case, by=cli_actor(), day=day, title=title, body=text,
            source=source.strip() or None, url=url, urgent=urgent,
        )  # fmt: skip
        if added.created:
            say(f"added update {added.id} to {added.case}: {added.day} {added.title}")
        else:
            say(f"{added.case} already has this update (id {added.id}); nothing changed")

    run_with_store(ctx, job)


@app.command("list")
def list_(
    ctx: typer.Context,
    case: Annotated[
        str | None, typer.Argument(help="Only this case (slug or any spelling).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The latest updates entered, newest first, with how many alerts went out about each."""
    from notifier.store.cases import get_case

    async def job(store: Store, _: Settings) -> None:
        async with store.read() as session:
            found = await get_case(session, case) if case else None
            states = await list_updates(session, case=found, limit=limit)
        if as_json:
            print_json([update_state_json(s) for s in states])
            return
        rows = []
        for s in states:
            u = s.update
            alerts = ", ".join(f"{n} {status}" for status, n in sorted(s.alerts.items())) or "—"
            if u.withdrawn_at is not None:
                note = f"withdrawn {u.withdrawn_at:%Y-%m-%d %H:%M}"
            elif not u.announce:
                note = "history (not announced)"
            else:
                note = "edited" if u.edited_at else ""
            rows.append([u.id, s.case.slug, u.event_date, u.title, alerts, note])
        table(
            f"{len(rows)} update{'s' if len(rows) != 1 else ''}",
            ["id", "case", "date", "title", "alerts", "note"],
            rows,
        )

    run_with_store(ctx, job)


@app.command()
def edit(
    ctx: typer.Context,
    update_id: UpdateId,
    title: Annotated[str | None, typer.Option(help="The corrected title.")] = None,
    body: Annotated[str | None, typer.Option(help="The corrected text.")] = None,
    body_file: Annotated[
        Path | None, typer.Option(help="Read the corrected text from this file ('-' for stdin).")
    ] = None,
    on: Annotated[str | None, typer.Option("--date", help="When it happened (YYYY-MM-DD).")] = None,
    source: Annotated[str | None, typer.Option(help="Who reported it.")] = None,
    url: Annotated[str | None, typer.Option(help="Link to the source.")] = None,
    urgent: Annotated[
        bool | None, typer.Option("--urgent/--not-urgent", help="Send at once to digest readers?")
    ] = None,
) -> None:
    """Correct an update: alerts not yet sent and digests not yet built carry the correction;
    what was sent is not sent again. Importing its case file again keeps the correction, unless
    the file itself changes that field (its newer text wins; the import says so)."""
    command = "updates edit"
    text = _text(body, body_file, command)
    day = _parse_date(on, command) if on else None

    async def job(store: Store, _: Settings) -> None:
        corrected = await tasks.correct_update(
            store, update_id, by=cli_actor(), where=command, title=title, body=text, day=day,
            source=source, url=url, urgent=urgent,
        )  # fmt: skip
        if not corrected.changed:
            say(f"update {update_id}: nothing to change")
            return
        say(
            f"update {update_id} corrected ({', '.join(corrected.changed)}): {corrected.waiting} "
            f"alert(s) not yet sent carry it; {corrected.sent} already sent are not sent again"
        )

    run_with_store(ctx, job)


@app.command()
def withdraw(ctx: typer.Context, update_id: UpdateId) -> None:
    """Withdraw an update (sent by mistake, or it puts someone at risk): alerts and digests not
    yet sent that hold it are stopped now, digests leave it out from now on, the bot no longer
    shows it."""

    async def job(store: Store, _: Settings) -> None:
        withdrawn = await tasks.withdraw_update(store, update_id, by=cli_actor())
        head = "was already withdrawn" if withdrawn.already else "withdrawn"
        say(
            f"update {update_id} {head}: {withdrawn.alerts_stopped} alert(s) and "
            f"{withdrawn.digests_stopped} digest(s) not yet sent stopped (their other news "
            f"comes in the next digest); {withdrawn.sent} alert(s) had been sent"
        )

    run_with_store(ctx, job)
