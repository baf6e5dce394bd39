"""Sign-up pages: `/subscribe` (choose countries and people) and `/lists/<slug>` (join a prayer
chain), both with double opt-in; `/confirm/<token>` finishes it. Answers are the same whether
the address is known or not, and requests are rate limited per address and per client."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from notifier.domain import Cadence
from notifier.domain.case_specs import SLUG
from notifier.links import BadToken
from notifier.store.models import MailingList, Subscriber, utcnow
from notifier.store.preferences import Follow
from notifier.store.signups import confirm_signup, request_signup
from notifier.web import csrf
from notifier.web.follow_input import known_names, resolve_follow_text
from notifier.web.form_text import form_problems, shown_again
from notifier.web.pages import page
from notifier.web.state import WebState

router = APIRouter()
#: The form's fields as its labels name them.
LABELS = {
    "email": "Email",
    "name": "Name",
    "follow": "Countries and people",
    "cadence": "How often",
}


def _form_page(
    state: WebState, request: Request, status: int = 200, **context: Any
) -> HTMLResponse:
    token = csrf.token_for(request)
    context.setdefault("form", {"email": "", "name": "", "follow": "", "cadence": "weekly"})
    context.setdefault("errors", [])
    context.setdefault("list_name", "")
    context.setdefault("list_description", "")
    context.setdefault("known", [])
    response = page(state.env, "subscribe", status=status, csrf=token, **context)
    csrf.remember(response, token, secure=state.settings.public_url.startswith("https://"))
    return response


async def _list(state: WebState, slug: str) -> MailingList | None:
    if not SLUG.fullmatch(slug):  # no list has such a name: nothing to look up
        return None
    async with state.store.read() as session:
        found: MailingList | None = await session.scalar(
            select(MailingList).where(MailingList.slug == slug)
        )
        return found


@router.get("/subscribe", response_class=HTMLResponse, include_in_schema=False)
async def subscribe_form(request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    return _form_page(state, request, known=await known_names(state.store))


@router.get("/lists/{slug}", response_class=HTMLResponse, include_in_schema=False)
async def list_form(slug: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    mailing_list = await _list(state, slug)
    if mailing_list is None:
        return page(state.env, "invalid_link", status=404)
    return _form_page(
        state,
        request,
        list_name=mailing_list.name,
        list_description=mailing_list.description,
    )


async def _submit(request: Request, mailing_list: MailingList | None) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("email", "name", "follow", "cadence")}
    values["cadence"] = values["cadence"] or "weekly"
    list_context = (
        {"list_name": mailing_list.name, "list_description": mailing_list.description}
        if mailing_list
        else {"known": await known_names(state.store)}
    )
    errors: list[str] = []
    if not csrf.valid(request, str(form.get("csrf", ""))):
        errors.append("The form was too old or came from elsewhere: please send it again.")
        return _form_page(
            state, request, 403, form=shown_again(values), errors=errors, **list_context
        )
    if errors := form_problems(values, LABELS):
        return _form_page(
            state, request, 400, form=shown_again(values), errors=errors, **list_context
        )
    email = ""
    try:
        email = validate_email(values["email"], check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        errors.append(f"Email: {exc}")
    try:
        cadence = Cadence(values["cadence"])
    except ValueError:
        cadence = Cadence.WEEKLY
        errors.append("How often: choose one of the options.")
    if len(values["name"]) > 200:
        errors.append("Name: at most 200 characters.")
    follows: list[Follow] = []
    if mailing_list is None:
        follows, problems = await resolve_follow_text(state.store, values["follow"])
        errors += problems
        if not follows and not problems:
            errors.append("Say which countries or people you want news of.")
    if errors:
        return _form_page(state, request, 400, form=values, errors=errors, **list_context)
    client = request.client.host if request.client else "unknown"
    if not (state.flood_by_address.allow(email) and state.flood_by_client.allow(client)):
        return page(state.env, "too_many", status=429)
    async with state.store.transaction() as session:
        fresh = await session.get(MailingList, mailing_list.id) if mailing_list else None
        await request_signup(
            session,
            state.settings,
            email=email,
            name=values["name"],
            follows=follows,
            cadence=Cadence.WEEKLY if mailing_list else cadence,
            mailing_list=fresh,
            now=utcnow(),
        )
    # The same answer for a new, a pending and a known address: nothing to enumerate.
    return page(state.env, "subscribe_sent")


@router.post("/subscribe", response_class=HTMLResponse, include_in_schema=False)
async def subscribe(request: Request) -> HTMLResponse:
    return await _submit(request, None)


@router.post("/lists/{slug}", response_class=HTMLResponse, include_in_schema=False)
async def join_list(slug: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    mailing_list = await _list(state, slug)
    if mailing_list is None:
        return page(state.env, "invalid_link", status=404)
    return await _submit(request, mailing_list)


def _confirm_token(state: WebState, token: str) -> tuple[int, int] | None:
    try:
        return state.links.verify_confirm(token)
    except BadToken:
        return None


@router.get("/confirm/{token}", response_class=HTMLResponse, include_in_schema=False)
async def confirm_page(token: str, request: Request) -> HTMLResponse:
    """A page with a button: a link scanner opening the link confirms nobody."""
    state: WebState = request.app.state.notifier
    found = _confirm_token(state, token)
    if found is None:
        return page(state.env, "invalid_link", status=404)
    async with state.store.read() as session:
        email = await session.scalar(select(Subscriber.email).where(Subscriber.id == found[0]))
    if email is None:
        return page(state.env, "invalid_link", status=404)
    return page(state.env, "confirm", email=email)


@router.post("/confirm/{token}", response_class=HTMLResponse, include_in_schema=False)
async def confirm(token: str, request: Request) -> HTMLResponse:
    state: WebState = request.app.state.notifier
    found = _confirm_token(state, token)
    if found is None:
        return page(state.env, "invalid_link", status=404)
    async with state.store.transaction() as session:
        email = await confirm_signup(session, *found)
    if email is None:
        return page(state.env, "invalid_link", status=404)
    preferences_url = state.links.preferences_url(*found)
    return page(state.env, "confirmed", email=email, preferences_url=preferences_url)
