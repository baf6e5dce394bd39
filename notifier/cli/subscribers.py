"""`notifier subscribers …`: add, remove, show, list, import and export subscribers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notifier.cli.shell import print_json, run_with_store, say, table
from notifier.domain import Cadence, Channel, Consent, MemberSource
from notifier.domain.subscriber_specs import (
    FollowSpec,
    SubscriberSpec,
    check_chat_id,
    check_email,
    check_locale,
    check_name,
    check_time_zone,
    follows_cell,
    parse_cadence,
    parse_channel,
    parse_digest_schedule,
    parse_follow_token,
)
from notifier.errors import InputError, Problem
from notifier.ingest.subscriber_csv import read_subscriber_csv, write_subscriber_csv
from notifier.store.as_json import subscriber_details, subscriber_row
from notifier.store.channel_health import smtputf8_warnings
from notifier.store.engine import Store
from notifier.store.models import utcnow
from notifier.store.preferences import set_pause
from notifier.store.subscribers import (
    STICKY,
    add_follows,
    follow_specs,
    get_list,
    get_subscriber,
    import_subscribers,
    list_subscribers,
    reactivate_bounced,
    remove_subscriber,
)

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.domain import Cadence, Channel
    from notifier.domain.subscriber_specs import FollowSpec
    from notifier.store.engine import Store

app = typer.Typer(help="Subscribers: who hears about what, how often, where.", no_args_is_help=True)

ListOption = Annotated[str | None, typer.Option("--list", help="Only this mailing list (slug).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CadenceOption = Annotated[str, typer.Option(help="instant, daily or weekly.")]
ChannelOption = Annotated[str, typer.Option(help="email or telegram.")]


def _follows(
    countries: list[str], cases: list[str], everything: bool, cadence: str, channel: str
) -> list[FollowSpec]:
    import dataclasses

    from notifier.domain import Cadence, Channel

    problems: list[Problem] = []
    follows: list[FollowSpec] = []
    cad, chan = Cadence.INSTANT, Channel.EMAIL
    try:
        cad, chan = _cadence_and_channel("subscribers add", cadence, channel)
    except InputError as exc:
        problems += exc.problems
    tokens = [("--follow-country", f"country={c}") for c in countries]
    tokens += [("--follow-case", f"case={c}") for c in cases]
    tokens += [("--follow-all", "all")] if everything else []
    for option, token in tokens:
        try:
            follow = parse_follow_token(token, cadence=cad, channel=chan)
        except ValueError as exc:
            problems.append(Problem("subscribers add", option, str(exc)))
            continue
        follows.append(dataclasses.replace(follow, where="subscribers add", origin=option))
    if problems:
        raise InputError(problems)
    return follows


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
    from notifier.store.subscribers import (
        get_list,
        get_subscriber,
        import_subscribers,
    )

    problems: list[Problem] = []
    address, zone, schedule, chat_id = "", None, None, None
    follows: list[FollowSpec] = []
    try:
        address = check_email(email)
    except ValueError as exc:
        problems.append(Problem("subscribers add", "EMAIL", str(exc)))
    try:
        check_name(name)
    except ValueError as exc:
        problems.append(Problem("subscribers add", "--name", str(exc)))
    try:
        locale = check_locale(locale) if locale is not None else None
    except ValueError as exc:
        problems.append(Problem("subscribers add", "--locale", str(exc)))
    try:
        chat_id = check_chat_id(telegram_chat_id) if telegram_chat_id is not None else None
    except ValueError as exc:
        problems.append(Problem("subscribers add", "--telegram-chat-id", str(exc)))
    try:
        zone = check_time_zone(time_zone) if time_zone else None
    except ValueError as exc:
        problems.append(Problem("subscribers add", "--time-zone", str(exc)))
    try:
        schedule = parse_digest_schedule(digest_schedule) if digest_schedule else None
    except ValueError as exc:
        problems.append(Problem("subscribers add", "--digest-schedule", str(exc)))
    try:
        follows = _follows(follow_country or [], follow_case or [], follow_all, cadence, channel)
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(problems)
    spec = SubscriberSpec(
        where="subscribers add",
        email=address,
        name=name.strip(),
        locale=locale,
        time_zone=zone,
        digest_schedule=schedule,
        telegram_chat_id=chat_id,
    )

    async def job(store: Store, settings: Settings) -> None:
        async with store.transaction() as session:
            target = await get_list(session, mailing_list) if mailing_list else None
            report = await import_subscribers(
                session,
                [spec],
                settings,
                mailing_list=target,
                source=MemberSource.IMPORT,
                consent=Consent.CLI,
            )
            subscriber = await get_subscriber(session, address)
            await add_follows(session, subscriber, follows)
            tokens = follows_cell(follow_specs(subscriber)) or "nothing yet"
            warnings = await smtputf8_warnings(session, settings, [address])
        verb = "added" if report.created else "updated"
        say(f"{verb} {address}; follows: {tokens}")
        for warning in warnings:
            say(f"warning: {warning}")
        if report.kept_status or subscriber.status in STICKY:
            # Following something does not resubscribe them; say so, or the admin would think
            # the new follows will be delivered.
            say(f"note: {address} is {subscriber.status.value}; its status was left as it is")

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
        async with store.transaction() as session:
            subscriber = await get_subscriber(session, email)
            if mailing_list:
                target = await get_list(session, mailing_list)
                # Loaded explicitly: a lazy load cannot run under asyncio.
                await session.refresh(subscriber, ["memberships"])
                before = len(subscriber.memberships)
                subscriber.memberships = [
                    m for m in subscriber.memberships if m.list_id != target.id
                ]
                left = before != len(subscriber.memberships)
                say(f"{email} {'left' if left else 'was not on'} {target.slug}")
                return
            await remove_subscriber(session, subscriber, erase=erase)
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
        async with store.transaction() as session:
            subscriber = await get_subscriber(session, email)
            await reactivate_bounced(session, subscriber, "subscribers reactivate")
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

    from notifier.store.preferences import set_pause
    from notifier.store.subscribers import get_subscriber

    async def job(store: Store, _: Settings) -> None:
        async with store.transaction() as session:
            subscriber = await get_subscriber(session, email)
            until = utcnow() + timedelta(days=days)
            await set_pause(session, subscriber.id, until)
        say(f"{email} paused until {until:%Y-%m-%d %H:%M} UTC")

    run_with_store(ctx, job)


@app.command()
def resume(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address or Telegram chat id.")],
) -> None:
    """End a pause now."""
    from notifier.store.subscribers import get_subscriber

    async def job(store: Store, _: Settings) -> None:
        async with store.transaction() as session:
            subscriber = await get_subscriber(session, email)
            await set_pause(session, subscriber.id, None)
        say(f"{email} is no longer paused")

    run_with_store(ctx, job)


@app.command()
def show(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address or Telegram chat id.")],
    as_json: JsonOption = False,
) -> None:
    """Show one subscriber: status, follows, lists."""
    from notifier.store.subscribers import get_subscriber

    async def job(store: Store, _: Settings) -> None:
        async with store.read() as session:
            subscriber = await get_subscriber(session, email)
            data = await subscriber_details(session, subscriber)
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
    from notifier.store.subscribers import get_list

    async def job(store: Store, _: Settings) -> None:
        async with store.read() as session:
            target = await get_list(session, mailing_list) if mailing_list else None
            rows = [subscriber_row(s) for s in await list_subscribers(session, mailing_list=target)]
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
    from notifier.store.subscribers import get_list

    cad, chan = _cadence_and_channel("subscribers import", cadence, channel)
    specs, notes = read_subscriber_csv(file, cadence=cad, channel=chan)
    for note in notes:
        say(f"note: {note}")

    async def job(store: Store, settings: Settings) -> int:
        async with store.sessions() as session, session.begin():
            target = await get_list(session, mailing_list) if mailing_list else None
            report = await import_subscribers(
                session, specs, settings, mailing_list=target, skip_invalid=skip_invalid
            )
            imported = report.created + report.updated + report.unchanged
            warnings = await smtputf8_warnings(session, settings, imported)
            if dry_run:
                await session.rollback()
        prefix = "(dry run) " if dry_run else ""
        say(
            f"{prefix}{len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged"
            + (f", {len(report.joined_list)} added to {mailing_list}" if mailing_list else "")
            + (f", {len(report.skipped)} problem(s) skipped" if report.skipped else "")
        )
        for email in report.kept_status:
            say(f"note: {email} stays unsubscribed/bounced; an import does not resubscribe anyone")
        for warning in warnings:
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
    from notifier.store.as_json import subscriber_row
    from notifier.store.subscribers import get_list

    if fmt not in {"csv", "json"}:
        raise InputError.single("subscribers export", "--format", f"{fmt!r}: use csv or json")

    async def job(store: Store, _: Settings) -> list[dict[str, str]]:
        async with store.read() as session:
            target = await get_list(session, mailing_list) if mailing_list else None
            return [subscriber_row(s) for s in await list_subscribers(session, mailing_list=target)]

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
