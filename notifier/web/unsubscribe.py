"""Unsubscribe: the List-Unsubscribe URL of every email.

RFC 8058: a POST with the body `List-Unsubscribe=One-Click` (form-encoded or multipart; no
cookies, no login, no redirect) unsubscribes at once, and doing it twice is harmless. A GET,
which link scanners send, only shows a page with a button. A forged, altered or revoked token
is refused with the same short page whatever was wrong with it.

A link from a prayer chain's digest names the chain: its page offers to leave only that chain,
or everything, and the one-click POST of a mail client leaves the chain, which is what the
List-Id of the message it came with names. A link opened again after it was used says so."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select, update

from notifier.domain import SubscriberStatus
from notifier.links import BadToken
from notifier.store.models import ListMember, MailingList, Subscriber
from notifier.store.preferences import leave_list
from notifier.web.pages import page
from notifier.web.state import WebState

router = APIRouter()

#: The form field that says what to leave; a one-click POST without it leaves what the link
#: came from (the list, else everything).
SCOPE = "scope"


@dataclass(frozen=True)
class _Link:
    """Who an unsubscribe link is for, and where it came from."""

    subscriber_id: int
    email: str
    telegram: bool
    status: SubscriberStatus
    preferences_url: str
    #: The list whose digest carried the link (None: an alert or a personal digest, or a list
    #: that no longer exists).
    list_id: int | None = None
    list_name: str = ""
    on_list: bool = False

    def context(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "telegram": self.telegram,
            "bounced": self.status is SubscriberStatus.BOUNCED,
            "list_name": self.list_name,
            "on_list": self.on_list,
            "preferences_url": self.preferences_url,
        }


async def _link(state: WebState, token: str) -> _Link | None:
    """The link's subscriber and list, for a valid token of a subscriber whose links are not
    revoked."""
    try:
        subscriber_id, version, list_id = state.links.verify_unsubscribe(token)
    except BadToken:
        return None
    async with state.store.read() as session:
        row = (
            await session.execute(
                select(
                    Subscriber.email,
                    Subscriber.token_version,
                    Subscriber.telegram_chat_id,
                    Subscriber.status,
                ).where(Subscriber.id == subscriber_id)
            )
        ).one_or_none()
        if row is None or row.token_version != version:
            return None
        link = _Link(
            subscriber_id,
            row.email or "",
            row.telegram_chat_id is not None,
            row.status,
            state.links.preferences_url(subscriber_id, version),
        )
        if list_id is None:
            return link
        name = await session.scalar(select(MailingList.name).where(MailingList.id == list_id))
        if name is None:
            return link
        member = await session.scalar(
            select(ListMember.list_id).where(
                ListMember.list_id == list_id, ListMember.subscriber_id == subscriber_id
            )
        )
    return replace(link, list_id=list_id, list_name=name, on_list=member is not None)


def _already(state: WebState, link: _Link) -> HTMLResponse | None:
    """The page for a link whose work is done: the address unsubscribed (or bounced: nothing
    goes to it either), or, for a list's link, the list left."""
    if link.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED):
        return page(state.env, "unsubscribed", already=True, left_list="", **link.context())
    return None


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def confirm(token: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    link = await _link(state, token)
    if link is None:
        return page(state.env, "invalid_link", status=404)
    return _already(state, link) or page(state.env, "unsubscribe_confirm", **link.context())


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def one_click(token: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    link = await _link(state, token)
    if link is None:
        return page(state.env, "invalid_link", status=404)
    form = await request.form()
    if form.get("List-Unsubscribe") != "One-Click":
        return page(state.env, "unsubscribe_confirm", status=400, **link.context())
    scope = form.get(SCOPE) or ("list" if link.list_id is not None else "all")
    if scope == "list" and link.list_id is not None:
        async with state.store.transaction() as session:
            left = await leave_list(session, link.subscriber_id, link.list_id)
        context = link.context() | {"on_list": False}
        return page(
            state.env, "unsubscribed", already=not left, left_list=link.list_name, **context
        )
    if scope != "all":
        return page(state.env, "unsubscribe_confirm", status=400, **link.context())
    if (done := _already(state, link)) is not None:
        return done
    async with state.store.transaction() as session:
        await session.execute(
            update(Subscriber)
            .where(
                Subscriber.id == link.subscriber_id, Subscriber.status != SubscriberStatus.BOUNCED
            )
            # A confirmation asked for earlier must not bring them back (store/signups.py).
            .values(
                status=SubscriberStatus.UNSUBSCRIBED, signup_requested_at=None, signup_list_id=None
            )
        )
    # The email address only: a linked Telegram chat is the person's other choice (/stop there).
    return page(state.env, "unsubscribed", already=False, left_list="", **link.context())
