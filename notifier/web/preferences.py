"""The preference centre: the signed link in every email opens it without a password. Change
the cadence, stop a follow, leave a list, link Telegram, or leave everything.

Forms carry CSRF protection (notifier.web.csrf)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from notifier.countries import country_name
from notifier.links import PREFERENCES, BadToken
from notifier.numbers import as_int
from notifier.store.chats import create_link_code
from notifier.store.models import (
    Cadence,
    Channel,
    ListMember,
    Scope,
    Subscriber,
    SubscriberStatus,
    Subscription,
)
from notifier.web.csrf import remember, token_for, valid
from notifier.web.pages import page
from notifier.web.state import WebState

router = APIRouter()
LINK_CODE_TTL = timedelta(hours=1)


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


def _label(subscription: Subscription) -> str:
    if subscription.scope is Scope.ALL:
        return "every case"
    if subscription.scope is Scope.COUNTRY and subscription.country:
        return country_name(subscription.country)
    return subscription.case.name if subscription.case else "a case"


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


async def _render(
    state: WebState, subscriber_id: int, csrf: str, saved: str = "", status: int = 200
) -> HTMLResponse:
    async with state.store.transaction() as session:
        subscriber = await session.scalar(
            select(Subscriber)
            .where(Subscriber.id == subscriber_id)
            .options(
                selectinload(Subscriber.subscriptions).selectinload(Subscription.case),
                selectinload(Subscriber.memberships).selectinload(ListMember.mailing_list),
            )
        )
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
        email_cadences = {
            s.cadence.value for s in subscriber.subscriptions if s.channel is Channel.EMAIL
        }
        email_cadence = email_cadences.pop() if len(email_cadences) == 1 else ""
    response = page(
        state.env,
        "preferences",
        status=status,
        email=subscriber.email or "",
        status_=subscriber.status.value,
        follows=follows,
        lists=lists,
        csrf=csrf,
        saved=saved,
        telegram_link=telegram_link,
        email_cadence=email_cadence,
    )
    remember(response, csrf, secure=state.settings.public_url.startswith("https://"))
    return response


@router.get("/preferences/{token}", response_class=HTMLResponse, include_in_schema=False)
async def show(token: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    subscriber_id = await _subscriber_id(state, token)
    if subscriber_id is None:
        return page(state.env, "invalid_link", status=404)
    return await _render(state, subscriber_id, token_for(request))


@router.post("/preferences/{token}", response_class=HTMLResponse, include_in_schema=False)
async def change(token: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    subscriber_id = await _subscriber_id(state, token)
    if subscriber_id is None:
        return page(state.env, "invalid_link", status=404)
    form = await request.form()
    cookie = token_for(request)
    if not valid(request, str(form.get("csrf", ""))):
        return await _render(
            state, subscriber_id, cookie, "Nothing was changed: please try again.", status=403
        )
    action, value = str(form.get("action", "")), str(form.get("value", ""))
    saved = await _apply(state, subscriber_id, action, value)
    if saved is None:
        return await _render(state, subscriber_id, cookie, "That did not work.", status=400)
    return await _render(state, subscriber_id, cookie, saved)


async def _apply(state: WebState, subscriber_id: int, action: str, value: str) -> str | None:
    """Carry out one form's action; the message to show, or None for a malformed form."""
    mine = Subscription.subscriber_id == subscriber_id
    async with state.store.transaction() as session:
        if action == "cadence":
            try:
                cadence = Cadence(value)
            except ValueError:
                return None
            await session.execute(
                update(Subscription)
                .where(mine, Subscription.channel == Channel.EMAIL)
                .values(cadence=cadence)
            )
            how = "at once" if cadence is Cadence.INSTANT else f"in a {cadence.value} digest"
            return f"Saved: your email news now comes {how}."
        if action == "unfollow" and (follow_id := as_int(value)) is not None:
            await session.execute(delete(Subscription).where(mine, Subscription.id == follow_id))
            return "Saved: you no longer follow that."
        if action == "leave_list" and (list_id := as_int(value)) is not None:
            await session.execute(
                delete(ListMember).where(
                    ListMember.subscriber_id == subscriber_id, ListMember.list_id == list_id
                )
            )
            return "Saved: you left that prayer chain."
        if action == "leave_all":
            await session.execute(
                update(Subscriber)
                .where(
                    Subscriber.id == subscriber_id, Subscriber.status != SubscriberStatus.BOUNCED
                )
                .values(status=SubscriberStatus.UNSUBSCRIBED)
            )
            return "You are unsubscribed from everything. Nothing more will be sent to you."
    return None
