"""The Users section (owners): who has an account and with what role, adding someone (who
then gets a one-time set-password link to pass on), changing a role and a coordinator's lists,
a new set-password link, turning off a lost second factor, and removing an account (after a
confirmation step)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from notifier import app as tasks
from notifier.app import sessions
from notifier.domain import Role
from notifier.domain.actors import Area
from notifier.errors import InputError, NotFoundError
from notifier.web.console.access import (
    console_page,
    errors_by_field,
    need,
    posted,
    see_other,
    state_of,
    text_of,
)

router = APIRouter(include_in_schema=False)
Owner = Annotated[sessions.SignedIn, Depends(need(Area.USERS, write=True))]
WHERE = "users"


async def _users_page(
    request: Request, signed: sessions.SignedIn, status: int = 200, **context: object
) -> HTMLResponse:
    state = state_of(request)
    context.setdefault("errors", {})
    context.setdefault("form", {"email": "", "role": "editor", "lists": []})
    return console_page(
        request,
        signed,
        "users",
        status=status,
        users=await tasks.users(state.store),
        roles=[r.value for r in Role],
        all_lists=await tasks.mailing_lists(state.store, by=signed.actor),
        **context,
    )


@router.get("/admin/users", response_class=HTMLResponse)
async def users(request: Request, signed: Owner) -> Response:
    return await _users_page(request, signed)


@router.post("/admin/users", response_class=HTMLResponse)
async def add_user(request: Request, signed: Owner) -> Response:
    state = state_of(request)
    form = await posted(request, signed)
    email, role = text_of(form, "email"), text_of(form, "role")
    lists = [v for v in form.getlist("lists") if isinstance(v, str)]
    try:
        row = await tasks.add_user(state.store, email, role, lists, by=signed.actor, where=WHERE)
        link = await sessions.issue_reset(state.store, state.settings, signed.actor, row["email"])
    except (InputError, NotFoundError) as exc:
        problems = exc.problems if isinstance(exc, InputError) else []
        errors = errors_by_field(problems) if problems else {"lists": str(exc)}
        return await _users_page(
            request,
            signed,
            status=400,
            errors=errors,
            form={"email": email.replace("\x00", "")[:320], "role": role, "lists": lists},
        )
    return await _users_page(request, signed, status=201, added=row["email"], link=link)


async def _user_page(
    request: Request, signed: sessions.SignedIn, email: str, status: int = 200, **context: object
) -> HTMLResponse:
    state = state_of(request)
    found = next((u for u in await tasks.users(state.store) if u["email"] == email), None)
    if found is None:
        return console_page(request, signed, "not_found", status=404, what=f"no user {email}")
    context.setdefault("errors", {})
    return console_page(
        request,
        signed,
        "user",
        status=status,
        user=found,
        roles=[r.value for r in Role],
        all_lists=await tasks.mailing_lists(state.store, by=signed.actor),
        **context,
    )


@router.get("/admin/users/{email}", response_class=HTMLResponse)
async def user(request: Request, signed: Owner, email: str) -> Response:
    return await _user_page(request, signed, email[:320])


@router.post("/admin/users/{email}/role", response_class=HTMLResponse)
async def set_role(request: Request, signed: Owner, email: str) -> Response:
    state = state_of(request)
    form = await posted(request, signed)
    lists = [v for v in form.getlist("lists") if isinstance(v, str)]
    try:
        await tasks.set_role(
            state.store, email, text_of(form, "role"), lists, by=signed.actor, where=WHERE
        )
    except (InputError, NotFoundError) as exc:
        problems = exc.problems if isinstance(exc, InputError) else []
        errors = errors_by_field(problems) if problems else {"lists": str(exc)}
        return await _user_page(request, signed, email[:320], status=400, errors=errors)
    return await _user_page(request, signed, email, saved="role")


@router.post("/admin/users/{email}/reset", response_class=HTMLResponse)
async def reset(request: Request, signed: Owner, email: str) -> Response:
    state = state_of(request)
    await posted(request, signed)
    link = await sessions.issue_reset(state.store, state.settings, signed.actor, email)
    return await _user_page(request, signed, email, link=link)


@router.post("/admin/users/{email}/second-factor-off", response_class=HTMLResponse)
async def second_factor_off(request: Request, signed: Owner, email: str) -> Response:
    state = state_of(request)
    await posted(request, signed)
    await sessions.remove_second_factor(state.store, signed.actor, email)
    return await _user_page(request, signed, email, saved="second-factor-off")


@router.get("/admin/users/{email}/remove", response_class=HTMLResponse)
async def confirm_remove(request: Request, signed: Owner, email: str) -> Response:
    return await _user_page(request, signed, email[:320], confirm_remove=True)


@router.post("/admin/users/{email}/remove")
async def remove(request: Request, signed: Owner, email: str) -> Response:
    state = state_of(request)
    await posted(request, signed)
    if email == signed.email:
        return await _user_page(
            request, signed, email, status=409, errors={"": "you cannot remove your own account"}
        )
    try:
        await tasks.remove_user(state.store, email, by=signed.actor)
    except InputError as exc:
        return await _user_page(
            request, signed, email[:320], status=409, errors={"": str(exc.problems[0].reason)}
        )
    return see_other("/admin/users")
