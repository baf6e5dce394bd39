"""`notifier cases …`: list, show and import cases."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notifier.cli.shell import cli_actor, print_json, run_with_store, say, table
from notifier.errors import InputError

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.store.cases import ImportReport
    from notifier.store.engine import Store
    from notifier.store.models import Update

app = typer.Typer(help="Cases: the people and groups notifier follows.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    country: Annotated[str | None, typer.Option(help="Code or name: KZ, kazakhstan.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List cases, optionally of one country."""
    from notifier.countries import country_name, resolve_country
    from notifier.store.cases import list_cases, update_counts

    code = resolve_country(country) if country else None

    async def job(store: Store, _: Settings) -> None:
        async with store.read() as session:
            cases = await list_cases(session, country=code)
            counts = await update_counts(session)
        if as_json:
            from notifier.store.as_json import case_json  # only here: it loads the CSV code

            print_json([case_json(c) | {"updates": counts.get(c.id, (0, None))[0]} for c in cases])
            return
        rows = []
        for c in cases:
            count, latest = counts.get(c.id, (0, None))
            rows.append(
                [
                    c.slug,
                    c.name,
                    country_name(c.country),
                    c.status.value.replace("_", " "),
                    count,
                    latest,
                    "yes" if c.published else "no",
                ]
            )
        table(
            f"{len(cases)} case{'s' if len(cases) != 1 else ''}",
            ["slug", "name", "country", "status", "updates", "latest", "published"],
            rows,
        )

    run_with_store(ctx, job)


@app.command()
def show(
    ctx: typer.Context,
    case: Annotated[str, typer.Argument(help="Slug or any spelling of the name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one case with its updates, actions, letter address and prayer. Withdrawn updates are
    marked: subscribers no longer see them."""
    from notifier.countries import country_name
    from notifier.store.cases import get_case

    async def job(store: Store, _: Settings) -> None:
        async with store.read() as session:
            found = await get_case(session, case)
        if as_json:
            from notifier.store.as_json import case_json  # only here: it loads the CSV code

            print_json(case_json(found, with_updates=True))
            return
        say(f"{found.name} — {found.role}, {country_name(found.country)}".strip())
        say(
            f"status: {found.status.value.replace('_', ' ')}"
            + ("" if found.published else "  (unpublished)")
        )
        if found.spellings:
            say(f"also spelled: {', '.join(found.spellings)}")
        if found.summary:
            say("\n" + found.summary.strip())
        table(
            "updates",
            ["id", "date", "title", "source", "note"],
            [[u.id, u.event_date, u.title, u.source_name, _update_note(u)] for u in found.updates],
        )
        if found.actions:
            say("What you can do:")
            for action in found.actions:
                say(f"  • [{action['kind']}] {action['text']}")
        if found.letter_address:
            say("\nLetter address:\n" + found.letter_address.strip())
            if found.letter_guidance:
                say(found.letter_guidance.strip())
        if found.prayer:
            say("\nPrayer:\n" + found.prayer.strip())

    run_with_store(ctx, job)


def _update_note(update: Update) -> str:
    """Withdrawn first: subscribers no longer see it, whatever else is true of it."""
    notes = []
    if update.withdrawn_at is not None:
        notes.append(f"withdrawn {update.withdrawn_at:%Y-%m-%d %H:%M}")
    if update.severity.value == "urgent":
        notes.append("urgent")
    return ", ".join(notes)


def describe_import(report: ImportReport) -> str:
    parts = []
    for label, slugs in (
        ("created", report.cases_created),
        ("changed", report.cases_changed),
        ("unchanged", report.cases_unchanged),
    ):
        if slugs:
            parts.append(f"{len(slugs)} case{'s' if len(slugs) != 1 else ''} {label}")
    parts.append(
        f"updates: {report.updates_added} added, {report.updates_changed} changed, "
        f"{report.updates_unchanged} unchanged"
    )
    lines = ["; ".join(parts) + ("" if report.changed else " — nothing to change")]
    lines += [
        f"kept the correction made since the last import: {item}"
        for item in report.corrections_kept
    ]
    lines += [
        f"note: the file changed what had been corrected since the last import; the file's "
        f"text replaced the correction: {item}"
        for item in report.corrections_replaced
    ]
    return "\n".join(lines)


@app.command("import")
def import_(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(help="Case files (YAML).")] = None,
    sample: Annotated[bool, typer.Option("--sample", help="Load the sample cases.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check, change nothing.")] = False,
    announce: Annotated[
        bool,
        typer.Option(
            "--announce",
            help="Alert subscribers to the updates of new cases too (not just history).",
        ),
    ] = False,
) -> None:
    """Load case files (format: docs/case-files.md). Any problem in any file: nothing changes.
    Updates of a case new to the store are its history and are not sent to anyone (unless
    --announce); updates added to a case already here are news and go out."""
    from notifier import app as tasks
    from notifier.ingest.case_files import load_case_files, sample_case_files

    paths = list(files or []) + (sample_case_files() if sample else [])
    if not paths:
        raise InputError.single("cases import", "FILES", "name case files or give --sample")
    specs = load_case_files(paths)

    async def job(store: Store, _: Settings) -> None:
        report = await tasks.import_cases(
            store, specs, by=cli_actor(), announce=announce, dry_run=dry_run
        )
        say(("(dry run) " if dry_run else "") + describe_import(report))

    run_with_store(ctx, job)
