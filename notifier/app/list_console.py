"""A list as the console runs it: its settings, its members, its digest (preview, send now,
archive). Every function takes the actor (`by`): owners do everything, editors read, a
coordinator reads and changes only the lists named for them (anything else: ForbiddenError,
checked before the list is looked for, so a coordinator does not learn which lists exist).

Lists kept in files (subscribers/*.yaml, `notifier lists apply`) stay the source of truth: the
console shows their settings and follows read-only (`origin` 'file'; `save_list` refuses with
ConflictError), and the members the file names cannot be removed here (the file would put them
back). Members added in the console, an import or by themselves are kept by the file, so those
may be added and removed on any list. A list made in the console is edited there; a list file
that names it later takes it over."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import limits
from notifier.app.lists import add_member
from notifier.config import Settings
from notifier.digests import list_schedule, send_list_digest_now
from notifier.domain import Cadence, Channel, Consent, ListOrigin, MemberSource, outbox_keys
from notifier.domain.actors import Actor, Area
from notifier.domain.case_specs import SLUG
from notifier.domain.list_specs import ListSpec
from notifier.domain.schedule import next_due
from notifier.domain.subscriber_specs import (
    SubscriberSpec,
    check_chat_id,
    check_email,
    check_name,
    parse_follow_token,
)
from notifier.domain.text_fields import friendly_reason
from notifier.errors import ConflictError, ForbiddenError, InputError, NotFoundError, Problem
from notifier.ingest.subscriber_csv import parse_subscriber_csv, write_subscriber_csv
from notifier.links import Links
from notifier.numbers import as_int
from notifier.preview import preview_list
from notifier.render.messages import Renderer
from notifier.render.templates import list_template_problems, make_environment
from notifier.store import audit
from notifier.store import lists as stored
from notifier.store.as_json import list_json, member_ids, rows_of
from notifier.store.engine import Store
from notifier.store.models import (
    ListDigest,
    ListMember,
    MailingList,
    OutboxMessage,
    OutboxStatus,
    Subscriber,
    utcnow,
)
from notifier.store.subscribers import (
    find_subscriber,
    get_list,
    import_subscribers,
    resolve_follows,
)

#: What `save_list` reads; a list's members are kept on its member pages, not in its settings.
LIST_FIELDS = (
    "slug",
    "name",
    "description",
    "follows",
    "cadence",
    "schedule",
    "time_zone",
    "channels",
    "template",
    "protect_content",
)
#: The columns a list's member import reads: what a list file says of a member. Follows, other
#: lists, status and consent are the subscriber's own (`notifier subscribers import`).
MEMBER_COLUMNS = ("email", "name", "locale", "time_zone")
NOT_MEMBER_COLUMNS = (
    "follows",
    "lists",
    "status",
    "consent",
    "confirmed_at",
    "paused_until",
    "digest_schedule",
    "telegram_chat_id",
)
#: A digest's period as its outbox key ends: a UTC minute.
PERIOD = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z")
#: The largest id a page may start after (the store's ids are 64-bit at most).
MOST_ID = 2**62
#: A digest's messages not yet sent or failed: still to go.
WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.RETRY)
#: Most members or digests on one page.
PAGE_MOST = 500
FILE_EDIT = "this list is kept in a list file: change it there and run `notifier lists apply`"
FILE_NOTE = (
    "This list is kept in a list file (subscribers/{slug}.yaml or wherever `notifier lists "
    "apply` reads it): change its settings there. Members added here stay."
)


def _check(by: Actor, slug: str | None, *, write: bool, new: bool = False) -> None:
    """ForbiddenError unless `by` may read (or change) the list `slug` (None: the lists page);
    then NotFoundError for what cannot be a list's slug (too long, NUL…: never sent to the
    store), unless it is a `new` list's, which `save_list` names as a bad field."""
    if not by.may(Area.LISTS, write=write, mailing_list=slug):
        verb = "change" if write else "see"
        what = f"the list {slug[: limits.SLUG]!r}" if slug is not None else "lists"
        raise ForbiddenError(f"{by.label} may not {verb} {what}")
    if slug is not None and not new and not _slug_ok(slug):
        raise NotFoundError(f"no list {slug[: limits.SLUG]!r}")


def _slug_ok(slug: str) -> bool:
    return len(slug) <= limits.SLUG and SLUG.fullmatch(slug) is not None


def _limit(limit: int, where: str) -> int:
    if not 1 <= limit <= PAGE_MOST:
        raise InputError.single(where, "limit", f"{limit}: between 1 and {PAGE_MOST}")
    return limit


def settings_of(mailing_list: MailingList) -> dict[str, Any]:
    """The list's settings as its file would say them: what the audit log compares."""
    data = list_json(mailing_list, 0)
    del data["members"]
    return data | {"protect_content": mailing_list.protect_content}


def _view(mailing_list: MailingList, members: int, by: Actor) -> dict[str, Any]:
    from_file = mailing_list.origin is ListOrigin.FILE
    manageable = by.may(Area.LISTS, write=True, mailing_list=mailing_list.slug)
    return list_json(mailing_list, members) | {
        "protect_content": mailing_list.protect_content,
        "origin": mailing_list.origin.value,
        #: Whether `by` may change its settings here (a list file's are read-only).
        "editable": manageable and not from_file,
        #: Whether `by` may add, remove and import members, preview and send its digest.
        "manageable": manageable,
        "note": FILE_NOTE.format(slug=mailing_list.slug) if from_file else "",
    }


async def lists_for(store: Store, by: Actor) -> list[dict[str, Any]]:
    """The lists `by` may see (a coordinator: theirs), by slug, each with its member count,
    its origin and whether `by` may edit it."""
    _check(by, None, write=False)
    async with store.read() as session:
        found = await stored.list_lists(session)
    return [_view(m, n, by) for m, n in found if by.sees_every_list or m.slug in by.lists]


async def list_detail(store: Store, by: Actor, slug: str) -> dict[str, Any]:
    """One list as `lists_for` shows it, and when its next digest is due (UTC)."""
    _check(by, slug, write=False)
    async with store.read() as session:
        found = await get_list(session, slug, follows=True)
        members = await session.scalar(
            select(func.count()).select_from(ListMember).where(ListMember.list_id == found.id)
        )
    due = (
        None
        if found.cadence is Cadence.INSTANT
        else next_due(list_schedule(found), found.time_zone, utcnow())
    )
    return _view(found, int(members or 0), by) | {
        "next_digest": due.isoformat() if due else None,
    }


@dataclass(frozen=True)
class ListSaved:
    slug: str
    created: bool
    #: The settings that changed ('follows' for what it follows); empty: nothing did.
    changed: list[str]


def _spec_problems(exc: ValidationError, where: str) -> list[Problem]:
    return [
        Problem(where, ".".join(str(p) for p in e["loc"]) or "list", friendly_reason(e))
        for e in exc.errors()
    ]


async def _follow_problems(session: AsyncSession, follows: object, where: str) -> list[Problem]:
    """The follows' cases the store does not know, when other fields are bad (so every bad
    field is named at once)."""
    tokens = [follows] if isinstance(follows, str) else follows
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        return []
    specs = []
    for i, token in enumerate(tokens):
        try:
            follow = parse_follow_token(token, cadence=Cadence.WEEKLY, channel=Channel.EMAIL)
        except ValueError:
            return []
        specs.append(dataclasses.replace(follow, where=where, origin=f"follows.{i}"))
    return (await resolve_follows(session, specs, where))[1]


async def save_list(
    store: Store,
    settings: Settings,
    by: Actor,
    spec: Mapping[str, Any],
    *,
    slug: str | None = None,
) -> ListSaved:
    """Make a list (`slug` None: `spec` names its slug) or change one made in the console, from
    the fields a form gives (LIST_FIELDS: follows as a list of tokens, channels as a list),
    checked by the rules of list files. InputError naming every bad field, and nothing is
    written; ConflictError for a slug taken or a list kept in a file; ForbiddenError for an
    editor, or a coordinator and a list not theirs (a coordinator never makes one)."""
    target = slug if slug is not None else str(spec.get("slug", ""))
    _check(by, target, write=True, new=slug is None)
    where = f"list {target}" if target else "new list"
    data = dict(spec)
    problems = [
        Problem(where, key, "not a list setting" + (
            "; add members on the list's members page" if key == "members" else ""
        ))
        for key in data
        if key not in LIST_FIELDS
    ]  # fmt: skip
    data = {k: v for k, v in data.items() if k in LIST_FIELDS}
    if slug is not None and data.setdefault("slug", slug) != slug:
        problems.append(Problem(where, "slug", "a list's slug cannot be changed"))
        data["slug"] = slug
    checked: ListSpec | None = None
    try:
        checked = ListSpec.model_validate(data)
    except ValidationError as exc:
        problems += _spec_problems(exc, where)
    if checked is not None:
        env = make_environment(settings.templates_dir)
        problems += [
            dataclasses.replace(p, where=where)
            for p in list_template_problems(env, [(Path(where), checked)])
        ]
    async with store.transaction() as session:
        existing = await stored.find_list(session, target) if _slug_ok(target) else None
        if slug is not None and existing is None:
            raise NotFoundError(f"no list {slug!r}")
        if slug is None and existing is not None:
            raise ConflictError.single(where, "slug", f"there is a list {target!r} already")
        if existing is not None and existing.origin is ListOrigin.FILE:
            raise ConflictError.single(where, "list", FILE_EDIT)
        if checked is None:
            problems += await _follow_problems(session, data.get("follows"), where)
            raise InputError(problems)
        if problems:
            raise InputError(problems)
        if existing is None:
            made, change = await stored.create_list(
                session, checked, where, origin=ListOrigin.CONSOLE
            )
            audit.record(session, by, "list.create", target, after=settings_of(made))
            return ListSaved(target, True, [])
        before = settings_of(existing)
        change = stored.ListChange(target)
        await stored.set_list(
            session, existing, checked, where, origin=ListOrigin.CONSOLE, change=change
        )
        await session.refresh(existing, ["follows"])
        old, new = audit.changes(before, settings_of(existing))
        if old or new:
            audit.record(session, by, "list.edit", target, before=old, after=new)
        changed = [*change.settings_changed] + (["follows"] if change.follows_changed else [])
        return ListSaved(target, False, changed)


# --- members -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberPage:
    #: Each: email, name, status, how they joined ('file', 'import', 'self') and when.
    members: list[dict[str, Any]]
    #: How many the list has in all.
    total: int
    #: Give it as `after` for the next page; None: this is the last.
    next_after: int | None


async def list_members(
    store: Store, by: Actor, slug: str, *, after: int | None = None, limit: int = 50
) -> MemberPage:
    """The list's members in the order they were first added to the store (the index of its
    memberships, so a page of a 100,000-member list costs what a page of a small one does)."""
    _check(by, slug, write=False)
    _limit(limit, f"list {slug} members")
    if after is not None and not 0 <= after <= MOST_ID:
        raise InputError.single(f"list {slug} members", "after", f"{after}: not a member's id")
    async with store.read() as session:
        found = await get_list(session, slug)
        query = (
            select(Subscriber, ListMember.source, ListMember.joined_at)
            .join(ListMember, ListMember.subscriber_id == Subscriber.id)
            .where(ListMember.list_id == found.id)
            .order_by(ListMember.subscriber_id)
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(ListMember.subscriber_id > after)
        rows = list(await session.execute(query))
        total = await session.scalar(
            select(func.count()).select_from(ListMember).where(ListMember.list_id == found.id)
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return MemberPage(
        [
            {
                "id": s.id,
                "email": s.email or "",
                "name": s.name,
                "status": s.status.value,
                "telegram": s.telegram_chat_id is not None,
                "source": source.value,
                "joined_at": joined.isoformat(),
            }
            for s, source, joined in rows
        ],
        int(total or 0),
        rows[-1][0].id if more else None,
    )


@dataclass(frozen=True)
class MemberChange:
    email: str
    #: False: nothing changed (on the list already; or not on it).
    changed: bool


async def add_list_member(
    store: Store,
    settings: Settings,
    by: Actor,
    slug: str,
    email: str,
    *,
    name: str = "",
    consent: Consent = Consent.IMPORT,
) -> MemberChange:
    """Put someone on the list, adding them as a subscriber if they are new (active: `by`
    vouches for them, as `consent` records). InputError for a bad address or name;
    ConflictError if they left the list themselves (only they can join it again)."""
    _check(by, slug, write=True)
    where = f"list {slug}"
    problems = []
    try:
        address = check_email(email)
    except ValueError as exc:
        problems.append(Problem(where, "email", str(exc)))
    spec_name = name.strip()
    try:
        check_name(spec_name)
    except ValueError as exc:
        problems.append(Problem(where, "name", str(exc)))
    if problems:
        raise InputError(problems)
    # The one way onto a list: the same task as `notifier lists add-member` and the API.
    added = await add_member(
        store, settings, slug, address, by=by, name=spec_name, where=where, consent=consent
    )
    return MemberChange(added.email, added.joined)


async def remove_list_member(store: Store, by: Actor, slug: str, email: str) -> MemberChange:
    """Take someone off the list (they stay a subscriber, and may be added again). Not on it:
    `changed` False. ConflictError for a member a list file names: the file would put them
    back, so they are taken off there."""
    _check(by, slug, write=True)
    where = f"list {slug}"
    chat = as_int(email.strip())
    try:
        who = str(check_chat_id(chat)) if chat is not None else check_email(email)
    except ValueError as exc:
        raise InputError.single(where, "email", str(exc)) from None
    async with store.transaction() as session:
        found = await get_list(session, slug)
        subscriber = await find_subscriber(session, who)
        member = (
            None if subscriber is None else await session.get(ListMember, (found.id, subscriber.id))
        )
        if subscriber is None or member is None:
            return MemberChange(who, False)
        address = subscriber.email or str(subscriber.telegram_chat_id)
        if member.source is MemberSource.FILE and found.origin is ListOrigin.FILE:
            raise ConflictError.single(
                where,
                "email",
                f"{address} is named in the list's file: take them off there and run "
                "`notifier lists apply`",
            )
        await session.delete(member)
        audit.record(
            session, by, "list.remove-member", f"{slug}: {address}",
            before={"email": address, "source": member.source.value},
        )  # fmt: skip
    return MemberChange(address, True)


@dataclass(frozen=True)
class MembersImported:
    #: Put on the list; on it already; left it themselves (not put back).
    joined: list[str]
    already: list[str]
    left_list: list[str]
    #: New to the store (also in `joined`).
    created: list[str]
    #: They had unsubscribed or bounced and stay so (an import resubscribes nobody).
    kept_status: list[str]
    #: The rows not imported (with `skip_invalid`), each problem by line and column.
    skipped: list[Problem]
    #: Columns not read, and the like.
    notes: list[str]


def _member_spec(spec: SubscriberSpec) -> SubscriberSpec:
    """Only what a list file says of a member, and the problems of those columns."""
    return SubscriberSpec(
        where=spec.where,
        email=spec.email,
        name=spec.name,
        locale=spec.locale,
        time_zone=spec.time_zone,
        problems=[p for p in spec.problems if p.field in (*MEMBER_COLUMNS, "row", "")],
    )


async def import_list_members(
    store: Store,
    settings: Settings,
    by: Actor,
    slug: str,
    csv_text: str,
    *,
    name: str,
    skip_invalid: bool = False,
) -> MembersImported:
    """Put everyone in a CSV file (ours, Listmonk's, Mailchimp's; `name` is the file's, for the
    problems) on the list, as `notifier subscribers import --list` does: a bad row means
    nothing is imported and every bad row is named (InputError, each problem by line and
    column), unless `skip_invalid`, which imports the good rows and lists the bad. Only the
    columns MEMBER_COLUMNS are read; the others are named in `notes`."""
    _check(by, slug, write=True)
    try:
        check_name(name)
    except ValueError as exc:
        raise InputError.single(f"list {slug} import", "name", str(exc)) from None
    specs, notes = parse_subscriber_csv(csv_text, name)
    ignored = sorted(
        {
            column
            for spec in specs
            for column in NOT_MEMBER_COLUMNS
            if getattr(spec, column) not in (None, [])
        }
    )
    if ignored:
        notes.append(
            f"not read here: {', '.join(ignored)} (a subscriber's own; `notifier subscribers "
            "import` reads them)"
        )
    members = [_member_spec(s) for s in specs]
    async with store.transaction() as session:
        found = await get_list(session, slug)
        report = await import_subscribers(
            session, members, settings, mailing_list=found, skip_invalid=skip_invalid
        )
        imported = [e for e in (*report.created, *report.updated, *report.unchanged)]
        joined = list(report.joined_list)
        already = [e for e in imported if e not in joined and e not in report.left_list]
        if joined or report.created:
            audit.record(
                session, by, "list.import-members", slug,
                after={"file": name, "joined": len(joined), "created": len(report.created),
                       "skipped": len(report.skipped)},
            )  # fmt: skip
    return MembersImported(
        joined=joined,
        already=already,
        left_list=list(report.left_list),
        created=list(report.created),
        kept_status=list(report.kept_status),
        skipped=list(report.skipped),
        notes=notes,
    )


#: Members read and written per piece of a list's export: memory stays flat however long the
#: list, and the first bytes go out after one piece is read.
EXPORT_BATCH = 1000


async def export_list_lines(store: Store, by: Actor, slug: str) -> AsyncIterator[str]:
    """The list's members as our subscriber CSV (what `import_list_members` and `notifier
    subscribers import` read back), line by line, in the order of their addresses. Who is on
    the list is read now (NotFoundError for no such list); their rows a thousand at a time as
    the lines are taken, each piece in a short read of its own (a slow download holds no
    transaction open). A coordinator's copy names only their own lists."""
    _check(by, slug, write=False)
    async with store.read() as session:
        ids = await member_ids(session, await get_list(session, slug))
    return _export_lines(store, by, ids)


async def _export_lines(store: Store, by: Actor, ids: list[int]) -> AsyncIterator[str]:
    for line in write_subscriber_csv([]):
        yield line  # the header
    for start in range(0, len(ids), EXPORT_BATCH):
        async with store.read() as session:
            rows = await rows_of(session, ids[start : start + EXPORT_BATCH])
        if not by.sees_every_list:
            for row in rows:
                row["lists"] = " ".join(s for s in row["lists"].split() if s in by.lists)
        for line in write_subscriber_csv(rows, header=False):
            yield line


async def export_list_members(store: Store, by: Actor, slug: str) -> str:
    """`export_list_lines` as one text."""
    return "".join([line async for line in await export_list_lines(store, by, slug)])


# --- the list's digest -------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestPreview:
    #: The next digest per channel the list sends on, as a sample reader would get it; empty
    #: when there is nothing new to send (`reason` says so).
    messages: dict[Channel, Any]
    reason: str
    #: When the scheduled digest is due (UTC); None for an instant list.
    due: datetime | None


async def digest_preview(
    store: Store,
    settings: Settings,
    by: Actor,
    slug: str,
    *,
    recent: int = 0,
    renderer: Renderer | None = None,
) -> DigestPreview:
    """The list's next digest as it stands now, on each of its channels (email: subject, text
    and HTML; Telegram: the text), labelled for the period it will be sent for; nothing is
    written. `recent`: the N latest matching updates instead, whatever was sent."""
    _check(by, slug, write=False)
    if not 0 <= recent <= PAGE_MOST:
        raise InputError.single(f"list {slug} preview", "recent", f"{recent}: 0 to {PAGE_MOST}")
    render = renderer or Renderer(settings)
    now = utcnow()
    async with store.read() as session:
        found = await get_list(session, slug)
    messages: dict[Channel, Any] = {}
    reason = ""
    for channel in (Channel(c) for c in found.channels):
        message, why = await preview_list(store, render, slug, channel, now=now, recent=recent)
        if message is None:
            reason = why
            break
        messages[channel] = message
    due = (
        None
        if found.cadence is Cadence.INSTANT
        else next_due(list_schedule(found), found.time_zone, now)
    )
    return DigestPreview(messages, reason, due)


@dataclass(frozen=True)
class SentNow:
    #: Messages queued (one per member and channel, and per Telegram group).
    messages: int
    #: Nothing new since the last digest: nothing queued.
    empty: bool
    #: Its last digest already covers this minute (sent twice): nothing queued.
    covered: bool


async def send_now(
    store: Store,
    settings: Settings,
    by: Actor,
    slug: str,
    *,
    renderer: Renderer | None = None,
) -> SentNow:
    """Queue the list's digest now, with everything since its last digest, through the digest
    planner the schedule uses (the normal sender delivers it). The scheduled digest still comes
    on its usual day with what is new by then; nothing is sent twice, whichever comes first."""
    _check(by, slug, write=True)
    render = renderer or Renderer(settings)
    now = utcnow()
    async with store.sessions() as session, session.begin():
        found = await get_list(session, slug, follows=True)
        report = await send_list_digest_now(session, render, found, now=now)
        if report.empty:
            # Nothing new: nothing written either, so news a moment later can go at once
            # (a digest built, even empty, covers its minute).
            await session.rollback()
        elif report.messages:
            audit.record(session, by, "list.send-now", slug, after={"messages": report.messages})
    return SentNow(report.messages, bool(report.empty), report.digests == 0)


@dataclass(frozen=True)
class DigestSent:
    #: The period it was built for (a UTC instant to the minute): also `before` for the next
    #: page of the archive, and what `digest_delivery` takes.
    period: str
    #: When it was queued.
    queued_at: datetime
    #: Per channel: recipients and (email) the web copy's link; from `digest_delivery`, also
    #: how many were sent, failed and are still to go.
    channels: list[dict[str, Any]]
    #: When its last message went (`digest_delivery` only).
    last_sent_at: datetime | None = None

    @property
    def recipients(self) -> int:
        return sum(int(c["recipients"]) for c in self.channels)


def _period(slug: str, period: str, field: str) -> str:
    if not PERIOD.fullmatch(period):
        raise InputError.single(
            f"list {slug} archive", field, "a digest's period, e.g. 2026-11-30T02:00Z"
        )
    return period


def _archived(rows: Sequence[ListDigest], links: Links) -> list[DigestSent]:
    """Digests from their archive rows (one per channel), in the rows' order of periods."""
    by_period: dict[str, list[ListDigest]] = {}
    for row in rows:
        by_period.setdefault(row.period, []).append(row)
    return [
        DigestSent(
            period,
            min(r.queued_at for r in parts),
            [
                {
                    "channel": r.channel.value,
                    "recipients": r.recipients,
                    "web_copy": links.digest_url(r.body_id) if r.channel is Channel.EMAIL else None,
                }
                for r in sorted(parts, key=lambda r: r.channel.value)
            ],
        )
        for period, parts in by_period.items()
    ]


async def digest_archive(
    store: Store,
    settings: Settings,
    by: Actor,
    slug: str,
    *,
    before: str | None = None,
    limit: int = 50,
) -> list[DigestSent]:
    """Every digest the list has sent, newest first: when, to how many on each channel, and
    the link to its web copy (which says the digest is gone once its outbox rows are pruned,
    after outbox_retention_days). `before`: the `period` of the last one shown, for the next
    page. How one digest's delivery went: `digest_delivery`."""
    _check(by, slug, write=False)
    _limit(limit, f"list {slug} archive")
    if before is not None:
        _period(slug, before, "before")
    async with store.read() as session:
        found = await get_list(session, slug)
        query = select(ListDigest.period).where(ListDigest.list_id == found.id)
        if before is not None:
            query = query.where(ListDigest.period < before)
        periods = query.group_by(ListDigest.period).order_by(ListDigest.period.desc()).limit(limit)
        rows = await session.scalars(
            select(ListDigest)
            .where(ListDigest.list_id == found.id, ListDigest.period.in_(periods))
            .order_by(ListDigest.period.desc())
        )
        return _archived(list(rows), Links.from_settings(settings))


async def digest_delivery(
    store: Store, settings: Settings, by: Actor, slug: str, period: str
) -> DigestSent:
    """One digest of the list as `digest_archive` shows it, with how its delivery went on each
    channel (sent, failed, still to go: from its outbox rows, while the outbox keeps them) and
    when its last message went. NotFoundError if the list sent no digest for that period."""
    _check(by, slug, write=False)
    _period(slug, period, "period")
    async with store.read() as session:
        found = await get_list(session, slug)
        rows = list(
            await session.scalars(
                select(ListDigest).where(
                    ListDigest.list_id == found.id, ListDigest.period == period
                )
            )
        )
        if not rows:
            raise NotFoundError(f"no digest of {slug} for {period}")
        key = outbox_keys.digest_message(outbox_keys.list_digest(found.id), period)
        status = {
            channel.value: (int(sent or 0), int(failed or 0), int(waiting or 0), at)
            for channel, sent, failed, waiting, at in await session.execute(
                select(
                    OutboxMessage.channel,
                    func.sum(case((OutboxMessage.status == OutboxStatus.SENT, 1), else_=0)),
                    func.sum(case((OutboxMessage.status == OutboxStatus.FAILED, 1), else_=0)),
                    func.sum(case((OutboxMessage.status.in_(WAITING), 1), else_=0)),
                    func.max(OutboxMessage.sent_at),
                )
                .where(OutboxMessage.key == key)
                .group_by(OutboxMessage.channel)
            )
        }
    digest = _archived(rows, Links.from_settings(settings))[0]
    for entry in digest.channels:
        sent, failed, waiting, _ = status.get(entry["channel"], (0, 0, 0, None))
        entry |= {"sent": sent, "failed": failed, "waiting": waiting}
    times = [at for *_, at in status.values() if at is not None]
    return dataclasses.replace(digest, last_sent_at=max(times) if times else None)
