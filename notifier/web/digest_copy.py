"""`/digests/<token>`: the web copy of a digest, linked from every digest email. It shows the
shared body (the same for everyone who got it), never anyone's personal footer or links; all of
it, where the email was too long and showed the last updates as headlines only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from notifier.domain import Channel
from notifier.links import BadToken
from notifier.render.marks import PERSONAL_MARK
from notifier.store.models import Body
from notifier.web.pages import HEADERS, page
from notifier.web.state import WebState

router = APIRouter()

#: The copy is a stored email body: inline styles, no scripts, nothing fetched from elsewhere
#: except images over HTTPS. Search engines are asked not to index it.
COPY_HEADERS = HEADERS | {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Robots-Tag": "noindex, nofollow",
}
NOTE = (
    '<p style="color:#6a6a6a;font-size:13px;font-family:Arial,sans-serif;border-top:1px solid '
    '#dddddd;margin-top:28px;padding-top:12px;">The web copy of a digest sent by email.</p>'
)


@router.get("/digests/{token}", response_class=HTMLResponse, include_in_schema=False)
async def digest_copy(token: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    try:
        body_id = state.links.verify_digest(token)
    except BadToken:
        return page(state.env, "invalid_link", status=404)
    async with state.store.read() as session:
        found = (
            await session.execute(
                select(Body.channel, Body.html, Body.web_html).where(Body.id == body_id)
            )
        ).first()
    if found is None:  # pruned with the outbox rows that used it, after outbox_retention_days
        return page(state.env, "digest_gone", status=410)
    channel, html, whole = found
    if channel is not Channel.EMAIL:  # Telegram bodies are never linked
        return page(state.env, "invalid_link", status=404)
    # The whole digest, where the email showed only the headlines of its last updates.
    return HTMLResponse((whole or html).replace(PERSONAL_MARK, NOTE), headers=COPY_HEADERS)
