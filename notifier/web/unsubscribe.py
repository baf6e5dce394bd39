"""Unsubscribe: the List-Unsubscribe URL of every email.

RFC 8058: a POST with the body `List-Unsubscribe=One-Click` (form-encoded or multipart; no
cookies, no login, no redirect) unsubscribes at once, and doing it twice is harmless. A GET,
which link scanners send, only shows a page with a button. A forged, altered or revoked token
is refused with the same short page whatever was wrong with it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select, update

from notifier.links import UNSUBSCRIBE, BadToken
from notifier.store.models import Subscriber, SubscriberStatus
from notifier.web.pages import page
from notifier.web.state import WebState

router = APIRouter()


async def _subscriber(state: WebState, token: str) -> tuple[int, str, bool] | None:
    """(id, email, has a linked Telegram chat) for a valid token of a subscriber whose links
    are not revoked."""
    try:
        subscriber_id, version = state.links.verify(UNSUBSCRIBE, token)
    except BadToken:
        return None
    async with state.store.read() as session:
        row = (
            await session.execute(
                select(
                    Subscriber.email, Subscriber.token_version, Subscriber.telegram_chat_id
                ).where(Subscriber.id == subscriber_id)
            )
        ).one_or_none()
    if row is None or row.token_version != version:
        return None
    return subscriber_id, row.email or "", row.telegram_chat_id is not None


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def confirm(token: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    found = await _subscriber(state, token)
    if found is None:
        return page(state.env, "invalid_link", status=404)
    return page(state.env, "unsubscribe_confirm", email=found[1])


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def one_click(token: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    found = await _subscriber(state, token)
    if found is None:
        return page(state.env, "invalid_link", status=404)
    form = await request.form()
    if form.get("List-Unsubscribe") != "One-Click":
        return page(state.env, "unsubscribe_confirm", status=400, email=found[1])
    async with state.store.transaction() as session:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id == found[0], Subscriber.status != SubscriberStatus.BOUNCED)
            # A confirmation asked for earlier must not bring them back (store/signups.py).
            .values(
                status=SubscriberStatus.UNSUBSCRIBED, signup_requested_at=None, signup_list_id=None
            )
        )
    # The email address only: a linked Telegram chat is the person's other choice (/stop there).
    return page(state.env, "unsubscribed", email=found[1], telegram=found[2])
