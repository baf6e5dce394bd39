"""Updates as an administrator enters them: add one to a case, correct one, withdraw one."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Subquery, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import limits
from notifier.app.access import require
from notifier.channels.base import Sender
from notifier.config import Settings
from notifier.domain import Cadence, Channel, MessageKind, Scope, Severity
from notifier.domain.actors import Actor, Area
from notifier.domain.messages import EmailContent, Outgoing
from notifier.domain.outbox_keys import alert_key
from notifier.domain.subscriber_specs import check_email
from notifier.domain.text_fields import check_text
from notifier.domain.vocabulary import CLAIMABLE
from notifier.errors import ForbiddenError, InputError, Problem
from notifier.mail_address import ascii_domain
from notifier.match import alert_recipients, lists_following
from notifier.preview import SAMPLE_READER
from notifier.render.messages import Personal, RenderedBody, Renderer, shared_body
from notifier.render.telegram_html import split_telegram_html
from notifier.store import audit
from notifier.store import updates as stored
from notifier.store.as_json import update_state_json
from notifier.store.audit import record
from notifier.store.cases import add_update as store_update
from notifier.store.cases import check_update_fields, get_case
from notifier.store.engine import Store
from notifier.store.models import (
    Case,
    ListMember,
    OutboxMessage,
    Subscriber,
    Subscription,
    Update,
    status_in,
    utcnow,
)
from notifier.store.outbox import waiting_digests_holding
from notifier.store.reach import reachable, receiving
from notifier.store.views import case_view, update_view


def _severity(urgent: bool) -> Severity:
    return Severity.URGENT if urgent else Severity.NORMAL


def _fields(update: Update) -> dict[str, Any]:
    """An update's fields as the audit log keeps them."""
    return {
        "date": update.event_date.isoformat(),
        "title": update.title,
        "body": update.body,
        "source": update.source_name,
        "url": update.source_url,
        "urgent": update.severity is Severity.URGENT,
        "translations": update.translations or {},
    }


def _target(update: Update, case: str) -> str:
    return f"update {update.id} ({case})"


@dataclass(frozen=True)
class UpdateAdded:
    id: int
    #: The case's slug.
    case: str
    day: date
    title: str
    #: False: the case had this update already (same day and title); nothing changed.
    created: bool


@dataclass(frozen=True)
class UpdateCorrected:
    #: The names of the fields that changed (none: it said so already).
    changed: list[str]
    #: Its alerts not yet sent, which carry the correction, and those sent, which are not sent
    #: again (as counted before the correction).
    waiting: int
    sent: int
    #: The update as `update_state_json` shows it, corrected.
    update: dict[str, Any]


@dataclass(frozen=True)
class UpdateWithdrawn:
    #: It had been withdrawn before: nothing more was stopped by this.
    already: bool
    #: Alerts, and digests built but not yet sent, that held it and are now stopped.
    alerts_stopped: int
    digests_stopped: int
    #: Its alerts that had gone out.
    sent: int
    #: The update as `update_state_json` shows it, withdrawn.
    update: dict[str, Any]


async def add_update(
    store: Store,
    case: str,
    *,
    by: Actor,
    day: date,
    title: str,
    body: str = "",
    source: str | None = None,
    url: str | None = None,
    urgent: bool = False,
    translations: Mapping[str, Any] | None = None,
) -> UpdateAdded:
    """Add news to a case (by slug or any spelling); the watcher sends it like any other.
    `translations`: its title and body in other languages ({"de": {"title": …}}).
    NotFoundError if there is no such case, InputError naming each bad field."""
    require(by, Area.UPDATES, write=True)
    async with store.transaction() as session:
        found = await get_case(session, case)
        update, created = await store_update(
            session,
            found,
            day=day,
            title=title,
            body=body,
            source_name=source,
            source_url=url,
            severity=_severity(urgent),
            translations=translations,
        )
        # The case had it already: nothing was made, and nothing is said to have been.
        audit.record(
            session,
            by,
            "update.add",
            _target(update, found.slug),
            after=_fields(update) if created else None,
        )
        return UpdateAdded(update.id, found.slug, update.event_date, update.title, created)


async def correct_update(
    store: Store,
    update_id: int,
    *,
    by: Actor,
    where: str,
    title: str | None = None,
    body: str | None = None,
    day: date | None = None,
    source: str | None = None,
    url: str | None = None,
    urgent: bool | None = None,
    translations: Mapping[str, Any] | None = None,
) -> UpdateCorrected:
    """Correct the fields given (None: leave it): alerts not yet sent and digests not yet built
    carry the correction. `translations`: by language, its title and body, or None to remove
    that language's; languages not named keep theirs. NotFoundError if there is no such
    update, ConflictError if it was withdrawn, InputError naming each bad field (under
    `where`)."""
    require(by, Area.UPDATES, write=True)
    async with store.transaction() as session:
        state = await stored.get_update(session, update_id)
        before = _fields(state.update)
        changed = await stored.edit_update(
            session, state, title=title, body=body, day=day, source_name=source,
            source_url=url, severity=None if urgent is None else _severity(urgent),
            translations=translations, where=where,
        )  # fmt: skip
        was, now = audit.changes(before, _fields(state.update))
        audit.record(
            session, by, "update.correct", _target(state.update, state.case.slug),
            before=was, after=now,
        )  # fmt: skip
        return UpdateCorrected(
            changed, state.waiting, state.alerts.get("sent", 0), update_state_json(state)
        )


async def withdraw_update(store: Store, update_id: int, *, by: Actor) -> UpdateWithdrawn:
    """Withdraw an update: alerts and digests not yet sent that hold it stop now; digests and
    case pages leave it out from then on. Withdrawing twice stops nothing more."""
    require(by, Area.UPDATES, write=True)
    async with store.transaction() as session:
        state = await stored.get_update(session, update_id)
        already = state.update.withdrawn_at is not None
        stopped = await stored.withdraw_update(session, state)
        audit.record(
            session,
            by,
            "update.withdraw",
            _target(state.update, state.case.slug),
            before=None if already else {"withdrawn": False},
            after={
                "withdrawn": True,
                "alerts_stopped": stopped.alerts,
                "digests_stopped": stopped.digests,
            },
        )
        return UpdateWithdrawn(
            already=already,
            alerts_stopped=stopped.alerts,
            digests_stopped=stopped.digests,
            sent=state.alerts.get("sent", 0),
            update=update_state_json(state),
        )


# --- the console's Updates page ---------------------------------------------------------------

#: Where a draft's problems are said to be.
DRAFT = "update form"
#: The most updates one page of the latest shows.
PAGE_MOST = 200
#: The earliest and the latest (days ahead) an update's date may be.
EARLIEST = date(1900, 1, 1)
DAYS_AHEAD = 366


@dataclass(frozen=True)
class UpdateDraft:
    """An update as the console's form holds it before it is saved (`day` as a date or as the
    form's ISO text)."""

    title: str
    day: date | str
    body: str = ""
    source: str | None = None
    url: str | None = None
    urgent: bool = False


@dataclass(frozen=True)
class UpdatePreview:
    """The alert about a draft as each channel renders it, for a sample reader."""

    subject: str
    email_text: str
    email_html: str
    #: The whole Telegram message (Telegram HTML), and the parts it goes out in.
    telegram_html: str
    telegram_parts: tuple[str, ...]


@dataclass(frozen=True)
class AudienceList:
    slug: str
    name: str
    cadence: str
    #: "alert" (an instant list, or an urgent update) or "digest" (in its next digest).
    by: str
    #: Members the list reaches now, per channel of the list.
    members: dict[str, int]


@dataclass(frozen=True)
class Audience:
    """Who an update of a case would reach if published now. `alerts` is exactly the outbox
    rows the watcher would write, per channel (one per person and channel, however many of
    their follows and lists match). `follows` counts people by the cadence of their own
    matching follows, per channel (someone with two counts in each); `lists` the lists that
    follow the case. Alerts go to nobody while the case is not published."""

    case: str
    urgent: bool
    published: bool
    alerts: dict[str, int]
    follows: dict[str, dict[str, int]]
    lists: list[AudienceList]

    @property
    def alert_total(self) -> int:
        return sum(self.alerts.values())


@dataclass(frozen=True)
class WithdrawPreview:
    """What withdrawing an update would stop now, per channel: its alerts not yet sent, and
    digests built but not yet sent that hold it; and its alerts already sent."""

    update: dict[str, Any]
    already: bool
    alerts: dict[str, int]
    digests: dict[str, int]
    sent: int


@dataclass(frozen=True)
class SentToSelf:
    to: str
    subject: str
    outcome: str
    error: str | None


def check_draft(draft: UpdateDraft, *, today: date | None = None) -> tuple[date, str | None]:
    """The draft by the rules of `updates add` (and case files), every bad field named; its
    date and link as they would be stored."""
    problems: list[Problem] = []
    day: date | None = None
    if isinstance(draft.day, date):
        day = draft.day
    else:
        try:
            day = date.fromisoformat(check_text(draft.day, limit=10))
        except ValueError as exc:
            problems.append(
                Problem(DRAFT, "date", f"{draft.day[:20]!r}: a date, YYYY-MM-DD ({exc})")
            )
    latest = (today or utcnow().date()) + timedelta(days=DAYS_AHEAD)
    if day is not None and not EARLIEST <= day <= latest:
        problems.append(Problem(DRAFT, "date", f"from {EARLIEST} to {latest}, not {day}"))
    link = None
    try:
        link = check_update_fields(
            DRAFT, title=draft.title, body=draft.body, source_name=draft.source,
            source_url=draft.url or None,
        )  # fmt: skip
    except InputError as exc:
        problems += exc.problems
    if draft.url and not (draft.source or "").strip():
        problems.append(Problem(DRAFT, "source", "a link needs the source's name"))
    if problems or day is None:
        raise InputError(problems)
    return day, link


def _draft_update(case: Case, draft: UpdateDraft, day: date, link: str | None) -> Update:
    """The draft as an update row that is never added to the store (id 0)."""
    return Update(
        id=0,
        case_id=case.id,
        key="draft",
        event_date=day,
        title=draft.title.strip(),
        body=draft.body.strip(),
        source_name=(draft.source or "").strip() or None,
        source_url=link,
        severity=_severity(draft.urgent),
    )


def _render_alert(
    renderer: Renderer, case: Case, update: Update
) -> tuple[RenderedBody, UpdatePreview]:
    email = renderer.alert(case_view(case), update_view(update), Channel.EMAIL, "en")
    final = renderer.personalise(email, SAMPLE_READER)
    telegram = renderer.alert(case_view(case), update_view(update), Channel.TELEGRAM, "en")
    text = renderer.telegram_text(telegram, group=False)
    preview = UpdatePreview(
        final.subject, final.text, final.html, text, tuple(split_telegram_html(text))
    )
    return email, preview


async def preview_update(
    store: Store,
    settings: Settings,
    by: Actor,
    case_slug: str,
    draft: UpdateDraft,
    *,
    renderer: Renderer | None = None,
) -> UpdatePreview:
    """The alert a draft would become, as email (text and HTML) and Telegram render it, with
    the same templates the deliverer uses; nothing is written. InputError naming each bad
    field, NotFoundError if there is no such case."""
    require(by, Area.UPDATES)
    day, link = check_draft(draft)
    async with store.read() as session:
        case = await get_case(session, case_slug)
    _, preview = _render_alert(
        renderer or Renderer(settings), case, _draft_update(case, draft, day, link)
    )
    return preview


async def _count_by_channel(session: AsyncSession, recipients: Subquery) -> dict[str, int]:
    rows = await session.execute(
        select(recipients.c.channel, func.count()).group_by(recipients.c.channel)
    )
    counts = {c.value: 0 for c in Channel}
    counts.update({str(channel): n for channel, n in rows})
    return counts


async def update_audience(
    store: Store, by: Actor, case_slug: str, *, urgent: bool, now: datetime | None = None
) -> Audience:
    """Who a new update of the case would reach if published now (see Audience): counted
    with the matcher's own query, so `alerts` is what the watcher will write. A coordinator
    sees only their own lists among `lists`."""
    require(by, Area.UPDATES)
    moment = now or utcnow()
    async with store.read() as session:
        case = await get_case(session, case_slug)
        lists = await lists_following(session, case)
        alerts = {c.value: 0 for c in Channel}
        if case.published:
            recipients = alert_recipients(case, urgent=urgent, lists=lists, now=moment)
            alerts = await _count_by_channel(session, recipients)
        follows = {c.value: {ch.value: 0 for ch in Channel} for c in Cadence}
        matching = or_(
            Subscription.scope == Scope.ALL,
            Subscription.country == case.country,
            Subscription.case_id == case.id,
        )
        for channel in Channel:
            rows = await session.execute(
                select(Subscription.cadence, func.count(distinct(Subscription.subscriber_id)))
                .join(Subscriber)
                .where(
                    matching,
                    Subscription.channel == channel,
                    receiving(moment),
                    reachable(channel),
                )
                .group_by(Subscription.cadence)
            )
            for cadence, n in rows:
                follows[Cadence(cadence).value][channel.value] = n
        shown = []
        for found in sorted(lists, key=lambda m: m.slug):
            if not (by.sees_every_list or found.slug in by.lists):
                continue
            members: dict[str, int] = {}
            for channel in Channel:
                if channel.value not in found.channels:
                    continue
                members[channel.value] = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(ListMember)
                        .join(Subscriber, Subscriber.id == ListMember.subscriber_id)
                        .where(
                            ListMember.list_id == found.id, receiving(moment), reachable(channel)
                        )
                    )
                    or 0
                )
            how = "alert" if urgent or found.cadence is Cadence.INSTANT else "digest"
            shown.append(AudienceList(found.slug, found.name, found.cadence.value, how, members))
    return Audience(case.slug, urgent, case.published, alerts, follows, shown)


async def withdraw_preview(store: Store, by: Actor, update_id: int) -> WithdrawPreview:
    """What `withdraw_update` would stop now, per channel, before anyone confirms it."""
    require(by, Area.UPDATES)
    async with store.read() as session:
        state = await stored.get_update(session, update_id)
        alerts = {c.value: 0 for c in Channel}
        rows = await session.execute(
            select(OutboxMessage.channel, func.count())
            .where(
                OutboxMessage.key == alert_key(update_id),
                OutboxMessage.kind == MessageKind.ALERT,
                status_in(*CLAIMABLE),  # through ix_outbox_due: the few waiting rows
            )
            .group_by(OutboxMessage.channel)
        )
        alerts.update({Channel(c).value: n for c, n in rows})
        digests = {c.value: 0 for c in Channel}
        holding = [row_id for row_id, _, _ in await waiting_digests_holding(session, update_id)]
        if holding:
            rows = await session.execute(
                select(OutboxMessage.channel, func.count())
                .where(OutboxMessage.id.in_(holding))
                .group_by(OutboxMessage.channel)
            )
            digests.update({Channel(c).value: n for c, n in rows})
        return WithdrawPreview(
            update=update_state_json(state),
            already=state.update.withdrawn_at is not None,
            alerts=alerts,
            digests=digests,
            sent=state.alerts.get("sent", 0),
        )


@dataclass(frozen=True)
class UpdatePage:
    """One page of the latest updates across cases, newest first (each as
    `update_state_json` shows it, with its case's name, and `alerts_made`, how many alerts
    were made for it, instead of `alerts` by status), and `before` to pass for the next page
    (None: the last)."""

    updates: list[dict[str, Any]]
    before: int | None


async def latest_updates(
    store: Store, by: Actor, *, before: int | None = None, limit: int = 50
) -> UpdatePage:
    """The updates entered last, across every case, newest first; `before` an update's id:
    the page after it. InputError naming a limit or `before` out of range."""
    require(by, Area.UPDATES)
    problems = []
    if not 1 <= limit <= PAGE_MOST:
        problems.append(Problem("updates", "limit", f"from 1 to {PAGE_MOST}, not {limit}"))
    if before is not None and not 1 <= before <= limits.ROW_ID:
        problems.append(Problem("updates", "before", f"from 1 to {limits.ROW_ID}, not {before}"))
    if problems:
        raise InputError(problems)
    async with store.read() as session:
        states = await stored.list_updates_made(session, limit=limit + 1, before=before)
    shown = states[:limit]
    rows = []
    for state, made in shown:
        row = update_state_json(state) | {"case_name": state.case.name, "alerts_made": made}
        del row["alerts"]  # by status on the update's and its case's pages, not in this list
        rows.append(row)
    return UpdatePage(rows, shown[-1][0].update.id if len(states) > limit else None)


async def test_send(
    store: Store,
    settings: Settings,
    by: Actor,
    case_slug: str,
    draft: UpdateDraft,
    *,
    to_email: str,
    sender: Sender,
    renderer: Renderer | None = None,  # noqa: PT028  (named test_send, not a test)
) -> SentToSelf:
    """Send the alert a draft would become to the acting user's own address, now, through
    `sender` (the installation's email sender: SMTP, or the Maildir); nothing is queued.
    Audited as update.test-send. A console user may send only to their own address."""
    require(by, Area.UPDATES, write=True)
    try:
        address = check_email(to_email)
    except ValueError as exc:
        raise InputError.single(DRAFT, "to_email", str(exc)) from None
    if by.user is not None and address != by.user.lower():
        raise ForbiddenError(f"a test goes to your own address, {by.user}, only")
    day, link = check_draft(draft)
    async with store.read() as session:
        case = await get_case(session, case_slug)
    renderer = renderer or Renderer(settings)
    email, preview = _render_alert(renderer, case, _draft_update(case, draft, day, link))
    domain = ascii_domain(settings.mail_domain)
    personal = Personal(
        name="",
        email=address,
        reason="you sent yourself a test from the console",
        unsubscribe_url=SAMPLE_READER.unsubscribe_url,
        preferences_url=SAMPLE_READER.preferences_url,
    )
    text_footer, html_footer = renderer.footers(personal)
    subject = f"[Test] {preview.subject}"
    message = Outgoing(
        0,
        EmailContent(
            to_address=address,
            to_name="",
            subject=subject,
            body=shared_body(email),
            text_footer=text_footer,
            html_footer=html_footer,
            message_id=f"<test.{secrets.token_hex(12)}@{domain}>",
            list_id=f"{settings.network_name} tests <tests.{domain}>",
            unsubscribe_url=None,
        ),
    )
    results = await sender.send([message])
    result = results[0]
    async with store.transaction() as session:
        record(
            session, by, "update.test-send", case.slug,
            after={"to": address, "title": draft.title, "outcome": result.outcome.value},
        )  # fmt: skip
    return SentToSelf(address, subject, result.outcome.value, result.error)


test_send.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever pytest thinks
