"""API tokens (/admin/account/tokens): a user makes a token for a script or a tool, sees it
once, and revokes it; it acts with the user's role on /api. Owners see and may revoke every
user's tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from notifier import app as tasks
from notifier.app.sessions import SignedIn
from notifier.errors import InputError, NotFoundError
from notifier.limits import ROW_ID
from notifier.web.console.access import (
    Signed,
    console_page,
    errors_by_field,
    posted,
    see_other,
    state_of,
    text_of,
)

router = APIRouter(include_in_schema=False)


async def _tokens_page(
    request: Request, signed: SignedIn, status: int = 200, **context: object
) -> HTMLResponse:
    state = state_of(request)
    context.setdefault("token_name", "")
    context.setdefault("clear", "")
    return console_page(
        request,
        signed,
        "tokens",
        status=status,
        tokens=await tasks.tokens(state.store, signed.actor),
        **context,
    )


@router.get("/admin/account/tokens", response_class=HTMLResponse)
async def tokens(request: Request, signed: Signed, saved: str = "") -> Response:
    return await _tokens_page(request, signed, saved=saved[:20])


@router.post("/admin/account/tokens", response_class=HTMLResponse)
async def create(request: Request, signed: Signed) -> Response:
    state = state_of(request)
    form = await posted(request, signed)
    name = text_of(form, "name")
    try:
        row, clear = await tasks.create_token(state.store, signed.actor, name, where="token")
    except InputError as exc:
        return await _tokens_page(
            request,
            signed,
            status=400,
            errors=errors_by_field(exc.problems),
            token_name=name.replace("\x00", "")[:100],
        )
    return await _tokens_page(request, signed, status=201, clear=clear, added=row.name)


@router.post("/admin/account/tokens/{token_id}/revoke")
async def revoke(request: Request, signed: Signed, token_id: int) -> Response:
    state = state_of(request)
    await posted(request, signed)
    if not 1 <= token_id <= ROW_ID:
        return console_page(request, signed, "not_found", status=404, what="no such token")
    try:
        await tasks.revoke_token(state.store, signed.actor, token_id)
    except NotFoundError as exc:
        return console_page(request, signed, "not_found", status=404, what=str(exc))
    return see_other("/admin/account/tokens?saved=revoked")
