"""One's own account (/admin/account): the sessions signed in (and signing out of all of
them), a new password, and the second factor (TOTP): set up with a QR code, or turned off."""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from notifier.app import sessions
from notifier.errors import InputError
from notifier.web.console.access import (
    AnyStep,
    SecondStepNeeded,
    Signed,
    console_page,
    errors_by_field,
    posted,
    see_other,
    state_of,
    text_of,
)

router = APIRouter(include_in_schema=False)


async def _past_code(signed: AnyStep) -> sessions.SignedIn:
    """Signed in with the code given (setting up a second factor needs no more than that)."""
    if not signed.verified:
        raise SecondStepNeeded("/admin/code")
    return signed


PastCode = Annotated[sessions.SignedIn, Depends(_past_code)]


async def _account_page(
    request: Request, signed: sessions.SignedIn, status: int = 200, **context: object
) -> HTMLResponse:
    state = state_of(request)
    context.setdefault("errors", {})
    return console_page(
        request,
        signed,
        "account",
        status=status,
        my_sessions=await sessions.my_sessions(state.store, signed),
        **context,
    )


@router.get("/admin/account", response_class=HTMLResponse)
async def account(request: Request, signed: Signed, saved: str = "") -> Response:
    return await _account_page(request, signed, saved=saved[:40])


@router.post("/admin/account/password", response_class=HTMLResponse)
async def change_password(request: Request, signed: Signed) -> Response:
    state = state_of(request)
    form = await posted(request, signed)
    new = text_of(form, "new_password")
    if new != text_of(form, "again"):
        return await _account_page(
            request, signed, status=400, errors={"again": "the two new passwords differ"}
        )
    try:
        await sessions.change_password(
            state.store, signed.actor, text_of(form, "current_password"), new
        )
    except InputError as exc:
        return await _account_page(
            request, signed, status=400, errors=errors_by_field(exc.problems)
        )
    # Every session ended with the old password, this one too: sign in with the new one.
    return see_other("/admin/login?password_set=1")


def _second_factor_page(
    request: Request,
    signed: sessions.SignedIn,
    secret: str,
    uri: str,
    status: int = 200,
    **context: object,
) -> HTMLResponse:
    return console_page(
        request,
        signed,
        "second_factor",
        status=status,
        secret=secret,
        uri=uri,
        qr=segno.make(uri, error="m").svg_data_uri(scale=4, border=2),
        **context,
    )


@router.get("/admin/account/second-factor", response_class=HTMLResponse)
async def second_factor_form(request: Request, signed: PastCode) -> Response:
    state = state_of(request)
    secret, uri = sessions.new_second_factor(signed.email, state.settings.network_name)
    return _second_factor_page(request, signed, secret, uri, errors={})


@router.post("/admin/account/second-factor", response_class=HTMLResponse)
async def set_second_factor(request: Request, signed: PastCode) -> Response:
    state = state_of(request)
    form = await posted(request, signed)
    secret = text_of(form, "secret")[:64]
    try:
        await sessions.set_second_factor(state.store, signed.actor, secret, text_of(form, "code"))
    except InputError as exc:
        fresh, uri = sessions.new_second_factor(signed.email, state.settings.network_name)
        bad_secret = any(p.field == "secret" for p in exc.problems)
        return _second_factor_page(
            request,
            signed,
            fresh if bad_secret else secret,
            uri if bad_secret else _uri_of(secret, signed.email, state.settings.network_name),
            status=400,
            errors=errors_by_field(exc.problems),
        )
    return see_other("/admin/account?saved=second-factor")


def _uri_of(secret: str, email: str, issuer: str) -> str:
    return sessions.provisioning_uri(secret, email, issuer)


@router.post("/admin/account/second-factor/off")
async def second_factor_off(request: Request, signed: Signed) -> Response:
    state = state_of(request)
    await posted(request, signed)
    await sessions.remove_second_factor(state.store, signed.actor, signed.email)
    return see_other("/admin/account?saved=second-factor-off")
