"""The preference centre: the signed link in every email opens it without a password. Follow more
countries and people, stop a follow, change how often and by which channel news comes, pause for
a while, leave a list, link Telegram, or leave everything.

Forms carry CSRF protection (notifier.web.csrf)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import selectinload

from notifier.countries import country_name
from notifier.domain import Cadence, Channel, Consent, Scope, SubscriberStatus
from notifier.domain.subscriber_specs import check_time_zone
from notifier.links import PREFERENCES, BadToken
from notifier.numbers import as_id, as_int
from notifier.render.templates import day_label
from notifier.store.chats import create_link_code
from notifier.store.models import ListMember, Subscriber, Subscription, utcnow
from notifier.store.preferences import (
    DIGEST_TIME,
    channels_in_use,
    follow_targets,
    leave_everything,
    leave_list,
    set_channels,
    set_digest_schedule,
    set_pause,
    usable_channels,
)
from notifier.time_zones import zone_menu
from notifier.web.csrf import remember, token_for, valid
from notifier.web.follow_input import known_names, place_follow_text
from notifier.web.form_text import form_problems, shown_again
from notifier.web.pages import page
from notifier.web.state import WebState

router = APIRouter()
WEEKDAYS = tuple(calendar.day_name)
#: The schedule form's fields, kept as typed when the form comes back refused.
SCHEDULE_FIELDS = ("time_zone", "digest_time", "digest_day")
LINK_CODE_TTL = timedelta(hours=1)
#: "Pause for a while": the choices offered, in days.
PAUSES = {7: "for a week", 14: "for two weeks", 30: "for a month", 90: "for three months"}
CHANNEL_NAMES = {Channel.EMAIL: "email", Channel.TELEGRAM: "Telegram"}
#: The channel choices: form value → channels.
CHANNEL_CHOICES = {
    "email": {Channel.EMAIL},
    "telegram": {Channel.TELEGRAM},
    "both": {Channel.EMAIL, Channel.TELEGRAM},
}
#: The typed fields as their labels name them ("value" is what the follow form's box holds).
LABELS = {
    "value": "Follow",
    "cadence": "How often",
    "time_zone": "Time zone",
    "digest_time": "Time",
}


@dataclass(frozen=True)
class _Follow:
    id: int
    label: str
    cadence: str
    channel: str


@dataclass(frozen=True)
class _List:
    id: int
    name: str


@dataclass
class _Outcome:
    """What a form did: the message to show, problems with the form as a whole (`errors`) or
    with one of its fields (`field_errors`, shown beside it), and what the person typed or chose
    where it was not saved, so the form comes back as they left it."""

    saved: str = ""
    errors: list[str] = field(default_factory=list)
    field_errors: dict[str, list[str]] = field(default_factory=dict)
    follow_text: str = ""
    follow_cadence: str = ""
    schedule: dict[str, str] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return bool(self.errors or self.field_errors)


def _label(subscription: Subscription) -> str:
    if subscription.scope is Scope.ALL:
        return "every case"
    if subscription.scope is Scope.COUNTRY and subscription.country:
        return country_name(subscription.country)
    return subscription.case.name if subscription.case else "a case"


def _channel_choice(channels: list[Channel]) -> str:
    return "both" if len(channels) > 1 else channels[0].value if channels else ""


async def _subscriber_id(state: WebState, token: str) -> int | None:
    try:
        subscriber_id, version = state.links.verify(PREFERENCES, token)
    except BadToken:
        return None
    async with state.store.read() as session:
        current = await session.scalar(
            select(Subscriber.token_version).where(Subscriber.id == subscriber_id)
        )
    return subscriber_id if current == version else None


def _loaded(subscriber_id: int) -> Select[Subscriber]:
    return (
        select(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .options(
            selectinload(Subscriber.subscriptions).selectinload(Subscription.case),
            selectinload(Subscriber.memberships).selectinload(ListMember.mailing_list),
        )
    )


async def _render(
    state: WebState, subscriber_id: int, csrf: str, outcome: _Outcome, status: int = 200
) -> HTMLResponse:
    now = utcnow()
    async with state.store.transaction() as session:
        subscriber = await session.scalar(_loaded(subscriber_id))
        assert subscriber is not None
        telegram_link = ""
        if state.settings.telegram_bot_username and subscriber.telegram_chat_id is None:
            code = await create_link_code(session, subscriber, ttl=LINK_CODE_TTL)
            telegram_link = f"https://t.me/{state.settings.telegram_bot_username}?start={code}"
        follows = [
            _Follow(s.id, _label(s), s.cadence.value, s.channel.value)
            for s in subscriber.subscriptions
        ]
        lists = [_List(m.list_id, m.mailing_list.name) for m in subscriber.memberships]
        cadences = {s.cadence.value for s in subscriber.subscriptions}
        cadence = cadences.pop() if len(cadences) == 1 else ""
        usable = usable_channels(subscriber)
        in_use = channels_in_use(subscriber)
        paused = subscriber.paused_until
        paused_until = day_label(paused, subscriber.time_zone) if paused and paused > now else ""
    response = page(
        state.env,
        "preferences",
        status=status,
        email=subscriber.email or "",
        status_=subscriber.status.value,
        telegram_linked=Channel.TELEGRAM in usable,
        follows=follows,
        lists=lists,
        csrf=csrf,
        saved=outcome.saved,
        errors=outcome.errors,
        field_errors=outcome.field_errors,
        follow_text=outcome.follow_text,
        follow_cadence=outcome.follow_cadence or cadence or "weekly",
        known=await known_names(state.store),
        telegram_link=telegram_link,
        cadence=cadence or "weekly",
        mixed_cadence=not cadence and bool(follows),
        channel_options=[c.value for c in usable] + (["both"] if len(usable) > 1 else []),
        channel=_channel_choice(in_use),
        paused_until=paused_until,
        pauses=PAUSES,
        digests=any(s.cadence is not Cadence.INSTANT for s in subscriber.subscriptions),
        time_zone=outcome.schedule.get("time_zone", subscriber.time_zone),
        digest_day=_chosen_day(outcome, subscriber.digest_day),
        digest_time=outcome.schedule.get("digest_time", subscriber.digest_time),
        weekdays=WEEKDAYS,
        zones=zone_menu(),
    )
    remember(response, csrf, secure=state.settings.public_url.startswith("https://"))
    return response


@router.get("/preferences/{token}", response_class=HTMLResponse, include_in_schema=False)
async def show(token: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    subscriber_id = await _subscriber_id(state, token)
    if subscriber_id is None:
        return page(state.env, "invalid_link", status=404)
    return await _render(state, subscriber_id, token_for(request), _Outcome())


@router.post("/preferences/{token}", response_class=HTMLResponse, include_in_schema=False)
async def change(token: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    subscriber_id = await _subscriber_id(state, token)
    if subscriber_id is None:
        return page(state.env, "invalid_link", status=404)
    form = await request.form()
    cookie = token_for(request)
    if not valid(request, str(form.get("csrf", ""))):
        refused = _Outcome(errors=["Nothing was changed: the form was too old, please try again."])
        return await _render(state, subscriber_id, cookie, refused, status=403)
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    if problems := form_problems(fields, LABELS):
        typed = shown_again(fields).get("value", "") if fields.get("action") == "follow" else ""
        refused = _Outcome(errors=problems, follow_text=typed)
        return await _render(state, subscriber_id, cookie, refused, status=400)
    outcome = await _apply(state, subscriber_id, fields)
    if outcome is None:
        return await _render(
            state, subscriber_id, cookie, _Outcome(errors=["That did not work."]), status=400
        )
    return await _render(state, subscriber_id, cookie, outcome, 400 if outcome.refused else 200)


def _chosen_day(outcome: _Outcome, stored: int) -> int:
    """The weekday the schedule form shows: the one chosen, when the form came back refused."""
    day = as_int(outcome.schedule.get("digest_day", ""))
    return day if day is not None and 0 <= day <= 6 else stored


def _how(cadence: Cadence) -> str:
    return "at once" if cadence is Cadence.INSTANT else f"in a {cadence.value} digest"


async def _follow(state: WebState, subscriber_id: int, fields: dict[str, str]) -> _Outcome:
    """Follow what the text names, on the channels the subscriber's news comes by now. What it
    can place is saved; what it cannot comes back in the field, each with its problem."""
    text = fields.get("value", "").strip()
    chosen = fields.get("cadence", "")
    try:
        cadence = Cadence(chosen)
    except ValueError:
        # The cadence applies to every name: without one, nothing can be saved.
        return _Outcome(
            field_errors={"follow_cadence": ["How often: choose one of the options."]},
            follow_text=text,
        )
    if len(text) > 1000:
        return _Outcome(
            field_errors={"follow": ["At most 1,000 characters."]},
            follow_text=text,
            follow_cadence=cadence.value,
        )
    placed = await place_follow_text(state.store, text)
    refused = _Outcome(
        field_errors={"follow": placed.problems} if placed.problems else {},
        follow_text=", ".join(placed.unplaced),
        follow_cadence=cadence.value,
    )
    if not placed.follows:
        if not placed.problems:
            refused.field_errors["follow"] = ["Say which countries or people you want news of."]
        return refused
    async with state.store.transaction() as session:
        subscriber = await session.scalar(_loaded(subscriber_id))
        assert subscriber is not None
        channels = channels_in_use(subscriber)
        if not channels:
            refused.errors.append("There is no address or chat to send news to.")
            refused.follow_text = text
            return refused
        added = follow_targets(subscriber, placed.follows, cadence=cadence, channels=channels)
        await session.flush()
    what = "that" if len(placed.follows) == 1 else "those"
    news = "" if added else " (you already did: its news now comes " + _how(cadence) + ")"
    refused.saved = f"Saved: you now follow {what}{news}."
    return refused


async def _schedule(state: WebState, subscriber_id: int, fields: dict[str, str]) -> _Outcome:
    """When digests come: day (weekly), hour and time zone, each checked and named beside its
    field. They go together (an hour means nothing without its zone): one wrong, none saved,
    and the form keeps what was typed."""
    errors: dict[str, list[str]] = {}
    typed = {name: fields.get(name, "").strip()[:100] for name in SCHEDULE_FIELDS}
    zone = typed["time_zone"]
    try:
        zone = check_time_zone(zone)
    except ValueError as exc:
        errors["time_zone"] = [f"Time zone: {exc}."]
    at = typed["digest_time"][:5]
    if not DIGEST_TIME.fullmatch(at):
        errors["digest_time"] = ["Time: use hours and minutes, such as 07:00."]
    day = as_int(typed["digest_day"])
    if day is None or not 0 <= day <= 6:
        errors["digest_day"] = ["Day: choose one of the days."]
    if errors:
        return _Outcome(field_errors=errors, schedule=typed)
    assert day is not None
    async with state.store.transaction() as session:
        await set_digest_schedule(session, subscriber_id, time_zone=zone, day=day, at=at)
    return _Outcome(
        saved=f"Saved: daily digests come at {at}, weekly ones on {WEEKDAYS[day]}s at {at} "
        f"({zone})."
    )


async def _apply(state: WebState, subscriber_id: int, fields: dict[str, str]) -> _Outcome | None:
    """Carry out one form's action; what to show, or None for a malformed form."""
    action, value = fields.get("action", ""), fields.get("value", "")
    if action == "follow":
        return await _follow(state, subscriber_id, fields)
    if action == "schedule":
        return await _schedule(state, subscriber_id, fields)
    mine = Subscription.subscriber_id == subscriber_id
    async with state.store.transaction() as session:
        if action == "cadence":
            try:
                cadence = Cadence(value)
            except ValueError:
                return None
            # Through the ORM, so the new cadence's digests start where the old ones ended.
            subscriber = await session.scalar(_loaded(subscriber_id))
            assert subscriber is not None
            for subscription in subscriber.subscriptions:
                subscription.cadence = cadence
            return _Outcome(saved=f"Saved: your news now comes {_how(cadence)}.")
        if action == "channel" and value in CHANNEL_CHOICES:
            subscriber = await session.scalar(_loaded(subscriber_id))
            assert subscriber is not None
            wanted = CHANNEL_CHOICES[value]
            if not wanted <= set(usable_channels(subscriber)):
                return None
            set_channels(subscriber, wanted)
            await session.flush()
            by = " and ".join(CHANNEL_NAMES[c] for c in Channel if c in wanted)
            return _Outcome(saved=f"Saved: your news now comes by {by}.")
        if action == "pause" and (days := as_int(value)) in PAUSES:
            assert days is not None
            await set_pause(session, subscriber_id, utcnow() + timedelta(days=days))
            return _Outcome(saved=f"Paused {PAUSES[days]}: nothing is sent to you until then.")
        if action == "resume":
            await set_pause(session, subscriber_id, None)
            return _Outcome(saved="Welcome back: your news comes again from now on.")
        if action == "unfollow" and (follow_id := as_id(value)) is not None:
            await session.execute(delete(Subscription).where(mine, Subscription.id == follow_id))
            return _Outcome(saved="Saved: you no longer follow that.")
        if action == "leave_list" and (list_id := as_id(value)) is not None:
            await leave_list(session, subscriber_id, list_id)
            return _Outcome(saved="Saved: you left that prayer chain.")
        if action == "resubscribe":
            # The signed link proves the mailbox: someone who left may come back. A bounced
            # address stays bounced (an administrator decides that).
            result = await session.execute(
                update(Subscriber)
                .where(
                    Subscriber.id == subscriber_id,
                    Subscriber.status == SubscriberStatus.UNSUBSCRIBED,
                )
                .values(
                    status=SubscriberStatus.ACTIVE,
                    consent=Consent.PREFERENCES,
                    confirmed_at=utcnow(),
                )
            )
            if not getattr(result, "rowcount", 0):
                return _Outcome(errors=["Only an unsubscribed address can subscribe again here."])
            return _Outcome(saved="Welcome back: you are subscribed again.")
        if action == "leave_all":
            subscriber = await session.scalar(_loaded(subscriber_id))
            assert subscriber is not None
            await leave_everything(session, subscriber)
            return _Outcome(
                saved="You are unsubscribed from everything. Nothing more will be sent to you."
            )
    return None
