"""Signing in (/admin/login), the second-factor code (/admin/code), signing out, and the
one-time set-password link (/admin/set-password/<token>). Failed sign-ins are counted per
account and per client; past the limit the form says how long to wait, and no password is
checked at all."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from notifier.app import sessions
from notifier.errors import InputError
from notifier.web import csrf
from notifier.web.console.access import (
    AnyStep,
    Signed,
    clear_session_cookie,
    client_of,
    console_page,
    errors_by_field,
    posted,
    secure_cookies,
    see_other,
    session_of,
    set_session_cookie,
    state_of,
    text_of,
)

router = APIRouter(include_in_schema=False)

TOO_MANY = "Too many failed sign-ins: wait 15 minutes, or ask an owner for a set-password link."


def _next(path: str) -> str:
    """Where to go after signing in: a console address, never another site."""
    if path.startswith("/admin") and not path.startswith("//") and "\\" not in path:
        return path
    return "/admin"


def _login_page(
    request: Request, *, email: str = "", next_path: str = "/admin", **context: object
) -> HTMLResponse:
    state = state_of(request)
    token = csrf.token_for(request)
    status = int(str(context.pop("status", 200)))
    context.setdefault("errors", {})
    context.setdefault("notice", "")
    response = console_page(
        request,
        None,
        "login",
        status=status,
        form_csrf=token,
        email=email,
        next_path=next_path,
        **context,
    )
    csrf.remember(response, token, secure=secure_cookies(state))
    return response


@router.get("/admin/login", response_class=HTMLResponse)
async def login_form(
    request: Request, next: str = "/admin", signed_out: str = "", password_set: str = ""
) -> Response:
    if await session_of(request) is not None:
        return see_other(_next(next))
    notice = (
        "You are signed out."
        if signed_out
        else "Your password is set: sign in with it."
        if password_set
        else ""
    )
    return _login_page(request, next_path=_next(next[:500]), notice=notice)


@router.post("/admin/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    state = state_of(request)
    form = await request.form()
    email, password = text_of(form, "email"), text_of(form, "password")
    next_path = _next(text_of(form, "next")[:500])
    shown = email.replace("\x00", "")[:320]
    if not csrf.valid(request, text_of(form, "csrf")):
        return _login_page(
            request,
            email=shown,
            next_path=next_path,
            status=403,
            errors={"": "The form had expired: please sign in again."},
        )
    account, client = email.strip().lower()[:320], client_of(request)
    if state.login_by_account.full(account) or state.login_by_client.full(client):
        return _login_page(
            request, email=shown, next_path=next_path, status=429, errors={"": TOO_MANY}
        )
    try:
        started = await sessions.sign_in(state.store, email, password, client=client)
    except InputError as exc:
        state.login_by_account.allow(account)
        state.login_by_client.allow(client)
        return _login_page(
            request,
            email=shown,
            next_path=next_path,
            status=400,
            errors=errors_by_field(exc.problems),
        )
    response = see_other(
        f"/admin/code?next={quote(next_path, safe='/')}" if started.needs_code else next_path
    )
    set_session_cookie(response, state, started.token)
    return response


@router.get("/admin/code", response_class=HTMLResponse)
async def code_form(request: Request, signed: AnyStep, next: str = "/admin") -> Response:
    if signed.verified:
        return see_other(_next(next))
    return console_page(request, signed, "code", next_path=_next(next[:500]), errors={})


@router.post("/admin/code", response_class=HTMLResponse)
async def give_code(request: Request, signed: AnyStep) -> Response:
    state = state_of(request)
    form = await posted(request, signed)
    next_path = _next(text_of(form, "next")[:500])
    client = client_of(request)
    if state.login_by_account.full(signed.email) or state.login_by_client.full(client):
        return console_page(
            request, signed, "code", status=429, next_path=next_path, errors={"": TOO_MANY}
        )
    try:
        await sessions.give_code(
            state.store, request.cookies.get("notifier_session", ""), text_of(form, "code")
        )
    except InputError as exc:
        state.login_by_account.allow(signed.email)
        state.login_by_client.allow(client)
        return console_page(
            request,
            signed,
            "code",
            status=400,
            next_path=next_path,
            errors=errors_by_field(exc.problems),
        )
    return see_other(next_path)


@router.post("/admin/logout")
async def logout(request: Request, signed: AnyStep) -> Response:
    state = state_of(request)
    await posted(request, signed)
    await sessions.sign_out(state.store, request.cookies.get("notifier_session", ""))
    response = see_other("/admin/login?signed_out=1")
    clear_session_cookie(response, state)
    return response


@router.post("/admin/sign-out-everywhere")
async def sign_out_everywhere(request: Request, signed: Signed) -> Response:
    state = state_of(request)
    await posted(request, signed)
    await sessions.sign_out_everywhere(state.store, signed.actor)
    response = see_other("/admin/login?signed_out=1")
    clear_session_cookie(response, state)
    return response


def _set_password_page(
    request: Request, token: str, email: str | None, status: int = 200, **context: object
) -> HTMLResponse:
    state = state_of(request)
    form_token = csrf.token_for(request)
    response = console_page(
        request,
        None,
        "set_password",
        status=status if email else 404,
        form_csrf=form_token,
        token=token,
        email=email,
        **context,
    )
    csrf.remember(response, form_token, secure=secure_cookies(state))
    return response


@router.get("/admin/set-password/{token}", response_class=HTMLResponse)
async def set_password_form(request: Request, token: str) -> Response:
    email = await sessions.reset_user(state_of(request).store, token)
    return _set_password_page(request, token, email, errors={})


@router.post("/admin/set-password/{token}", response_class=HTMLResponse)
async def set_password(request: Request, token: str) -> Response:
    state = state_of(request)
    email = await sessions.reset_user(state.store, token)
    form = await request.form()
    if not csrf.valid(request, text_of(form, "csrf")):
        return _set_password_page(
            request, token, email, status=403, errors={"": "The form had expired: try again."}
        )
    password, again = text_of(form, "password"), text_of(form, "again")
    if password != again:
        return _set_password_page(
            request, token, email, status=400, errors={"again": "the two passwords differ"}
        )
    try:
        await sessions.set_password_with(state.store, token, password)
    except InputError as exc:
        return _set_password_page(
            request, token, email, status=400, errors=errors_by_field(exc.problems)
        )
    return see_other("/admin/login?password_set=1")
