"""`/`: the network's home page: its name and the prayer chains a visitor may join, each with
its sign-up page, and the page to choose countries and people. Nothing about subscribers or
cases that are not public."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from notifier.store.models import MailingList
from notifier.web.pages import page
from notifier.web.state import WebState

router = APIRouter()


@dataclass(frozen=True)
class _List:
    slug: str
    name: str
    description: str


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    # Every list, as `/lists/<slug>` takes a sign-up for any of them.
    async with state.store.read() as session:
        rows = await session.execute(
            select(MailingList.slug, MailingList.name, MailingList.description).order_by(
                MailingList.name
            )
        )
        lists = [
            _List(slug, name, " ".join((description or "").split()))
            for slug, name, description in rows
        ]
    return page(state.env, "home", lists=lists)
