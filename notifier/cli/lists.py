"""`notifier lists …`: apply list files, list and show mailing lists."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notifier.cli.shell import print_json, run_with_store, say, table

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
    from notifier.ingest.list_files import load_list_files
    from notifier.render.templates import list_template_problems, make_environment
    from notifier.store.lists import apply_lists

    specs = load_list_files(paths)

    async def job(store: Store, settings: Settings) -> None:
        found = list_template_problems(make_environment(settings.templates_dir), specs)
        async with store.sessions() as session, session.begin():
            changes = await apply_lists(session, specs, settings, found=found)
            if dry_run:
                await session.rollback()
        prefix = "(dry run) " if dry_run else ""
        for change in changes:
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
    from notifier.store.as_json import list_json
    from notifier.store.lists import list_lists

    async def job(store: Store, _: Settings) -> None:
        async with store.read() as session:
            rows = [list_json(m, n) for m, n in await list_lists(session)]
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
    from notifier.store.as_json import list_json
    from notifier.store.lists import list_members
    from notifier.store.subscribers import get_list

    async def job(store: Store, _: Settings) -> None:
        async with store.read() as session:
            found = await get_list(session, slug, follows=True)
            members = await list_members(session, found)
        data = list_json(found, len(members)) | {
            "members": [
                {"email": s.email, "name": s.name, "status": s.status.value, "source": src.value}
                for s, src in members
            ]
        }
        if as_json:
            print_json(data)
            return
        say(f"{found.name} ({found.slug})")
        if found.description:
            say(found.description.strip())
        say(f"follows: {' '.join(data['follows'])}")
        say(
            f"digest: {found.cadence.value}, {found.schedule} {found.time_zone}; "
            f"channels: {', '.join(found.channels)}"
        )
        table(
            f"{len(members)} member{'s' if len(members) != 1 else ''}",
            ["email", "name", "status", "joined by"],
            [[m["email"], m["name"], m["status"], m["source"]] for m in data["members"]],
        )

    run_with_store(ctx, job)
