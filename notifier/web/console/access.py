"""Who is asking, and may they: the console's session cookie, the role check every route makes
on the server (notifier.domain.actors' table), the form token every form posts back, and the
page every console route renders through (with the navigation this user may use)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from notifier.app.sessions import SignedIn, current
from notifier.domain.actors import Actor, Area
from notifier.errors import Problem
from notifier.web.pages import CONSOLE_HEADERS, page
from notifier.web.state import WebState

COOKIE = "notifier_session"
PATH = "/admin"

#: The console's sections, in the order the navigation shows them: (area, label, address).
SECTIONS: tuple[tuple[Area, str, str], ...] = (
    (Area.DASHBOARD, "Dashboard", "/admin/dashboard"),
    (Area.CASES, "Cases", "/admin/cases"),
    (Area.UPDATES, "Updates", "/admin/updates"),
    (Area.LISTS, "Lists", "/admin/lists"),
    (Area.SUBSCRIBERS, "Subscribers", "/admin/subscribers"),
    (Area.OUTBOX, "Outbox", "/admin/outbox"),
    (Area.BOUNCES, "Bounces", "/admin/bounces"),
    (Area.USERS, "Users", "/admin/users"),
    (Area.AUDIT, "Audit log", "/admin/audit"),
)


#: What a page shows only sometimes (a note after saving, a link shown once, a confirmation
#: step): empty unless a route gives it, so templates can test it plainly.
OPTIONAL = ("saved", "notice", "link", "added", "confirm_remove")


class SignInNeeded(Exception):
    """No live session: the browser is sent to the sign-in page (and back afterwards)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class SecondStepNeeded(Exception):
    """Signed in, but a step is still due: a second-factor code, or (owners, where the
    settings say so) setting one up."""

    def __init__(self, where: str) -> None:
        self.where = where


class NotAllowed(Exception):
    """The user's role does not reach this page or action: a 403 page saying so."""

    def __init__(self, what: str) -> None:
        self.what = what


class BadFormToken(Exception):
    """A form posted without this session's form token (another site's, or a stale page)."""


def state_of(request: Request) -> WebState:
    state: WebState = request.app.state.notifier
    return state


def secure_cookies(state: WebState) -> bool:
    return state.settings.public_url.startswith("https://")


def set_session_cookie(response: Response, state: WebState, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(state),
    )


def clear_session_cookie(response: Response, state: WebState) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, httponly=True, samesite="lax", secure=secure_cookies(state)
    )


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def session_of(request: Request) -> SignedIn | None:
    state = state_of(request)
    return await current(state.store, state.settings, request.cookies.get(COOKIE, ""))


async def signed_in_any_step(request: Request) -> SignedIn:
    """The session, whether or not a second factor is still due."""
    signed = await session_of(request)
    if signed is None:
        raise SignInNeeded(request.url.path)
    return signed


AnyStep = Annotated[SignedIn, Depends(signed_in_any_step)]


async def signed_in(signed: AnyStep) -> SignedIn:
    """A session that has passed every step."""
    if not signed.verified:
        raise SecondStepNeeded("/admin/code")
    if signed.must_set_second_factor:
        raise SecondStepNeeded("/admin/account/second-factor")
    return signed


Signed = Annotated[SignedIn, Depends(signed_in)]


def need(area: Area, *, write: bool = False) -> Callable[[SignedIn], Awaitable[SignedIn]]:
    """A dependency: the session, if its user may read (or write) `area`; 403 otherwise."""

    async def check(signed: Signed) -> SignedIn:
        if not signed.actor.may(area, write=write):
            verb = "change" if write else "see"
            raise NotAllowed(f"your role ({signed.actor.role}) may not {verb} {area.value}")
        return signed

    return check


def may_list(actor: Actor, area: Area, slug: str, *, write: bool = False) -> None:
    """403 unless the actor may read (write) `area` for the list `slug` (coordinators: theirs)."""
    if not actor.may(area, write=write, mailing_list=slug):
        raise NotAllowed(f"the list {slug} is not one of yours")


async def posted(request: Request, signed: SignedIn) -> FormData:
    """The form of a POST, once its form token is this session's."""
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or sent != signed.csrf:
        raise BadFormToken()
    return form


def text_of(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def errors_by_field(problems: list[Problem]) -> dict[str, str]:
    """The first message for each field, for the form to show beside it."""
    found: dict[str, str] = {}
    for problem in problems:
        found.setdefault(problem.field or "", problem.reason)
    return found


def console_page(
    request: Request, signed: SignedIn | None, name: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render templates/web/admin/<name>.html with what every console page shows: the user, the
    sections they may open, the section they are in, and the form token."""
    state = state_of(request)
    for optional in OPTIONAL:
        context.setdefault(optional, "")
    context.setdefault("errors", {})
    sections = (
        [(label, href) for area, label, href in SECTIONS if signed.actor.may(area)]
        if signed is not None and signed.verified
        else []
    )
    return page(
        state.env,
        f"admin/{name}",
        status=status,
        headers=CONSOLE_HEADERS,
        me=signed,
        sections=sections,
        here=request.url.path,
        csrf=signed.csrf if signed else "",
        **context,
    )


def see_other(where: str) -> RedirectResponse:
    return RedirectResponse(where, status_code=303)


def sign_in_address(next_path: str) -> str:
    return f"/admin/login?next={quote(next_path, safe='/')}"
