"""`notifier subscribers …`: add, remove, show, list, import and export subscribers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notifier import app as tasks
from notifier.cli.shell import cli_actor, print_json, run_with_store, say, table
from notifier.domain import Consent
from notifier.domain.subscriber_specs import parse_cadence, parse_channel
from notifier.errors import InputError, Problem
from notifier.ingest.subscriber_csv import read_subscriber_csv, write_subscriber_csv
from notifier.store.models import utcnow

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.domain import Cadence, Channel
    from notifier.store.engine import Store

app = typer.Typer(help="Subscribers: who hears about what, how often, where.", no_args_is_help=True)

ListOption = Annotated[str | None, typer.Option("--list", help="Only this mailing list (slug).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CadenceOption = Annotated[str, typer.Option(help="instant, daily or weekly.")]
ChannelOption = Annotated[str, typer.Option(help="email or telegram.")]
#: What `subscribers add` calls each field in a problem: its argument or option.
ADD_FIELDS = {
    "email": "EMAIL",
    "name": "--name",
    "locale": "--locale",
    "telegram_chat_id": "--telegram-chat-id",
    "time_zone": "--time-zone",
    "digest_schedule": "--digest-schedule",
    "cadence": "--cadence",
    "channel": "--channel",
}


def _cadence_and_channel(where: str, cadence: str, channel: str) -> tuple[Cadence, Channel]:
    from notifier.domain import Cadence, Channel

    problems: list[Problem] = []
    cad, chan = Cadence.INSTANT, Channel.EMAIL
    try:
        cad = parse_cadence(cadence)
    except ValueError as exc:
        problems.append(Problem(where, "--cadence", str(exc)))
    try:
        chan = parse_channel(channel)
    except ValueError as exc:
        problems.append(Problem(where, "--channel", str(exc)))
    if problems:
        raise InputError(problems)
    return cad, chan


@app.command()
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    follow_country: Annotated[
        list[str] | None, typer.Option(help="Country to follow (repeat).")
    ] = None,
    follow_case: Annotated[
        list[str] | None, typer.Option(help="Case to follow, by slug or name (repeat).")
    ] = None,
    follow_all: Annotated[bool, typer.Option(help="Follow every case.")] = False,
    cadence: CadenceOption = "instant",
    channel: ChannelOption = "email",
    telegram_chat_id: Annotated[int | None, typer.Option(help="Telegram chat id.")] = None,
    locale: Annotated[str | None, typer.Option(help="e.g. en, ru, de.")] = None,
    time_zone: Annotated[str | None, typer.Option(help="IANA name, e.g. Asia/Almaty.")] = None,
    digest_schedule: Annotated[
        str | None,
        typer.Option(help="When summaries come: 'fri 18:30' (weekly on Fridays), or '18:30'."),
    ] = None,
    mailing_list: Annotated[
        str | None,
        typer.Option(
            "--list",
            help="Also make them a member of this mailing list (slug): they get its digests, "
            "on its schedule, as well as what they follow.",
        ),
    ] = None,
) -> None:
    """Add a subscriber, or add follows to one who exists."""
    options = [("--follow-country", f"country={c}") for c in follow_country or []]
    options += [("--follow-case", f"case={c}") for c in follow_case or []]
    options += [("--follow-all", "all")] if follow_all else []
    form = tasks.SubscriberForm(
        email=email,
        name=name.strip(),
        follows=[tasks.FollowEntry(token, option) for option, token in options],
        cadence=cadence,
        channel=channel,
        locale=locale.strip() if locale is not None else None,
        time_zone=time_zone,
        digest_schedule=digest_schedule,
        telegram_chat_id=telegram_chat_id,
        mailing_list=mailing_list,
    )
    # Checked before the store is opened: bad input is named even where there is no store.
    entry = tasks.check_subscriber(form, where="subscribers add", fields=ADD_FIELDS)

    async def job(store: Store, settings: Settings) -> None:
        added = await tasks.add_subscriber(
            store, settings, entry, by=cli_actor(), consent=Consent.CLI
        )
        verb = "added" if added.created else "updated"
        say(f"{verb} {added.email}; follows: {added.row['follows'] or 'nothing yet'}")
        for warning in added.warnings:
            say(f"warning: {warning}")
        if added.status_kept:
            # Following something does not resubscribe them; say so, or the admin would think
            # the new follows will be delivered.
            status = added.row["status"]
            say(f"note: {added.email} is {status}; its status was left as it is")

    run_with_store(ctx, job)


@app.command()
def remove(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address or Telegram chat id.")],
    mailing_list: Annotated[
        str | None, typer.Option("--list", help="Only take them off this list.")
    ] = None,
    erase: Annotated[
        bool, typer.Option(help="Delete every trace instead of marking unsubscribed.")
    ] = False,
) -> None:
    """Unsubscribe someone (kept as unsubscribed, so no import brings them back), take them off
    one list, or --erase them entirely."""

    async def job(store: Store, _: Settings) -> None:
        if mailing_list:
            left = await tasks.leave_list(store, email, mailing_list, by=cli_actor())
            say(f"{email} {'left' if left else 'was not on'} {mailing_list}")
            return
        await tasks.remove_subscriber(store, email, by=cli_actor(), erase=erase)
        say(f"{email} {'erased' if erase else 'unsubscribed'}")

    run_with_store(ctx, job)


@app.command()
def reactivate(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address or Telegram chat id.")],
) -> None:
    """Mail a bounced address again, once the person says it works. (Someone who unsubscribed
    comes back themselves, from their preference link or the sign-up form.)"""

    async def job(store: Store, _: Settings) -> None:
        await tasks.reactivate_subscriber(
            store, email, by=cli_actor(), where="subscribers reactivate"
        )
        say(f"{email} is active again")

    run_with_store(ctx, job)


@app.command()
def pause(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address or Telegram chat id.")],
    days: Annotated[int, typer.Option(min=1, max=366, help="How long: 1 to 366 days.")] = 7,
) -> None:
    """Send nothing to someone for a while (what they can do themselves on their preference
    page or with /pause in Telegram)."""
    from datetime import timedelta

    async def job(store: Store, _: Settings) -> None:
        until = utcnow() + timedelta(days=days)
        await tasks.pause_subscriber(store, email, until, by=cli_actor())
        say(f"{email} paused until {until:%Y-%m-%d %H:%M} UTC")

    run_with_store(ctx, job)


@app.command()
def resume(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address or Telegram chat id.")],
) -> None:
    """End a pause now."""

    async def job(store: Store, _: Settings) -> None:
        await tasks.pause_subscriber(store, email, None, by=cli_actor())
        say(f"{email} is no longer paused")

    run_with_store(ctx, job)


@app.command()
def show(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address or Telegram chat id.")],
    as_json: JsonOption = False,
) -> None:
    """Show one subscriber: status, follows, lists."""

    async def job(store: Store, _: Settings) -> None:
        data = await tasks.show_subscriber(store, email, by=cli_actor())
        lists = data["lists"]
        if as_json:
            print_json(data)
            return
        keys = ("email", "name", "status", "locale", "time_zone", "digest_schedule")
        for key in (*keys, "telegram_chat_id"):
            say(f"{key:>16}: {data[key]}")
        say(f"{'follows':>16}: {' '.join(data['follows']) or '—'}")
        joined = ", ".join(f"{x['list']} ({x['source']})" for x in lists) or "—"
        say(f"{'lists':>16}: {joined}")
        if data["paused_until"]:
            say(f"{'paused until':>16}: {data['paused_until']}")

    run_with_store(ctx, job)


@app.command("list")
def list_(
    ctx: typer.Context,
    mailing_list: ListOption = None,
    as_json: JsonOption = False,
) -> None:
    """List subscribers, optionally the members of one list."""

    async def job(store: Store, _: Settings) -> None:
        rows = await tasks.subscriber_rows(store, by=cli_actor(), mailing_list=mailing_list)
        if as_json:
            print_json(rows)
            return
        table(
            f"{len(rows)} subscriber{'s' if len(rows) != 1 else ''}",
            ["email", "name", "status", "time zone", "follows"],
            [[r["email"], r["name"], r["status"], r["time_zone"], r["follows"]] for r in rows],
        )

    run_with_store(ctx, job)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="CSV file (ours, or a Listmonk / Mailchimp export).")
    ],
    mailing_list: Annotated[
        str | None, typer.Option("--list", help="Add everyone to this list.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and report; change nothing.")
    ] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good rows, list the bad.")
    ] = False,
    cadence: CadenceOption = "instant",
    channel: ChannelOption = "email",
) -> None:
    """Import subscribers from CSV. A bad row means nothing changes (unless --skip-invalid);
    every bad row is reported. An address already known is updated, never duplicated."""
    cad, chan = _cadence_and_channel("subscribers import", cadence, channel)
    specs, notes = read_subscriber_csv(file, cadence=cad, channel=chan)
    for note in notes:
        say(f"note: {note}")

    async def job(store: Store, settings: Settings) -> int:
        imported = await tasks.import_subscribers(
            store, settings, specs, by=cli_actor(), mailing_list=mailing_list,
            skip_invalid=skip_invalid, dry_run=dry_run,
        )  # fmt: skip
        report = imported.report
        prefix = "(dry run) " if dry_run else ""
        say(
            f"{prefix}{len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged"
            + (f", {len(report.joined_list)} added to {mailing_list}" if mailing_list else "")
            + (f", {len(report.skipped)} problem(s) skipped" if report.skipped else "")
        )
        for email in report.kept_status:
            say(f"note: {email} stays unsubscribed/bounced; an import does not resubscribe anyone")
        for warning in imported.warnings:
            say(f"warning: {warning}")
        if report.skipped:
            say("skipped:")
            for problem in report.skipped:
                # One problem per line whatever its length, so the list can be read by grep
                # like the stderr one.
                typer.echo(f"  {problem}")
            return 2
        return 0

    code = run_with_store(ctx, job)
    if code:
        raise typer.Exit(code)


@app.command()
def export(
    ctx: typer.Context,
    mailing_list: ListOption = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """Export subscribers; the CSV re-imports to the same state."""
    if fmt not in {"csv", "json"}:
        raise InputError.single("subscribers export", "--format", f"{fmt!r}: use csv or json")

    async def job(store: Store, _: Settings) -> list[dict[str, str]]:
        return await tasks.subscriber_rows(store, by=cli_actor(), mailing_list=mailing_list)

    rows = run_with_store(ctx, job)
    stream = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    try:
        if fmt == "json":
            import json

            stream.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        else:
            stream.writelines(write_subscriber_csv(rows))
    finally:
        if out:
            stream.close()
