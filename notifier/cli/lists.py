"""`notifier lists …`: apply list files, list and show mailing lists."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notifier.cli.shell import cli_actor, print_json, run_with_store, say, table

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.store.engine import Store

app = typer.Typer(help="Mailing lists (prayer chains).", no_args_is_help=True)


@app.command()
def apply(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help="List files or folders of them (subscribers/).")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change.")] = False,
) -> None:
    """Make the store's lists match the files. Members the file added and no longer names
    leave; members who joined by themselves or by import stay."""
    from notifier import app as tasks
    from notifier.ingest.list_files import load_list_files

    specs = load_list_files(paths)

    async def job(store: Store, settings: Settings) -> None:
        changes = await tasks.apply_lists(store, settings, specs, by=cli_actor(), dry_run=dry_run)
        prefix = "(dry run) " if dry_run else ""
        for change in changes:
            if change.members_kept_off:
                gone = ", ".join(change.members_kept_off)
                say(
                    f"{prefix}{change.slug}: {len(change.members_kept_off)} named in the file "
                    f"left the list themselves and stay off it: {gone}"
                )
            if not change.changed:
                say(f"{prefix}{change.slug}: no change")
                continue
            parts = ["created"] if change.created else []
            if change.settings_changed:
                parts.append(f"changed {', '.join(change.settings_changed)}")
            if change.follows_changed and not change.created:
                parts.append("follows changed")
            if change.members_added:
                parts.append(f"{len(change.members_added)} member(s) added")
            if change.members_removed:
                parts.append(
                    f"{len(change.members_removed)} removed: {', '.join(change.members_removed)}"
                )
            if change.subscribers_updated:
                parts.append(f"{len(change.subscribers_updated)} member(s) updated")
            say(f"{prefix}{change.slug}: {'; '.join(parts)}")

    run_with_store(ctx, job)


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the mailing lists."""
    from notifier import app as tasks

    async def job(store: Store, _: Settings) -> None:
        rows = await tasks.mailing_lists(store, by=cli_actor())
        if as_json:
            print_json(rows)
            return
        table(
            f"{len(rows)} list{'s' if len(rows) != 1 else ''}",
            ["slug", "name", "follows", "cadence", "schedule", "time zone", "members"],
            [
                [
                    r["slug"],
                    r["name"],
                    " ".join(r["follows"]),
                    r["cadence"],
                    r["schedule"],
                    r["time_zone"],
                    r["members"],
                ]
                for r in rows
            ],
        )

    run_with_store(ctx, job)


@app.command()
def show(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="The list's slug.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a list: what it follows, when it sends, who is on it and how they joined."""
    from notifier import app as tasks

    async def job(store: Store, _: Settings) -> None:
        data = await tasks.show_list(store, slug, by=cli_actor())
        if as_json:
            print_json(data)
            return
        say(f"{data['name']} ({data['slug']})")
        if data["description"]:
            say(data["description"].strip())
        say(f"follows: {' '.join(data['follows'])}")
        say(
            f"digest: {data['cadence']}, {data['schedule']} {data['time_zone']}; "
            f"channels: {', '.join(data['channels'])}"
        )
        members = data["members"]
        table(
            f"{len(members)} member{'s' if len(members) != 1 else ''}",
            ["email", "name", "status", "joined by"],
            [[m["email"], m["name"], m["status"], m["source"]] for m in members],
        )

    run_with_store(ctx, job)
