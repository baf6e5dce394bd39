"""The Lists section: the lists one may see (a coordinator: theirs), a new list (owners), a
list's page with its settings (a form where the list is made in the console; a list kept in a
file is shown read-only with a note saying so), its members (paged, added, removed after a
confirmation, imported from a CSV file with each bad row named, exported as CSV), its next
digest previewed, sent now after a confirmation, and the archive of every digest it sent.

Owners do everything; a coordinator only their own lists (another list: the 403 page, on GET
and POST alike, before anything is looked up); editors read, and see no forms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.datastructures import FormData, UploadFile

from notifier import app as tasks
from notifier import limits
from notifier.app import sessions
from notifier.domain import Cadence, Channel
from notifier.domain.actors import Area
from notifier.errors import ConflictError, InputError, NotFoundError, Problem
from notifier.render.telegram_html import split_telegram_html
from notifier.web.console.access import (
    NotAllowed,
    console_page,
    errors_by_field,
    may_list,
    need,
    posted,
    see_other,
    state_of,
    text_of,
)
from notifier.web.console.values import lines, shown

router = APIRouter(include_in_schema=False)
Reader = Annotated[sessions.SignedIn, Depends(need(Area.LISTS))]
Writer = Annotated[sessions.SignedIn, Depends(need(Area.LISTS, write=True))]

#: The list form's fields, as the page names them.
FIELDS = (
    "slug", "name", "description", "follows", "cadence", "schedule", "time_zone", "template",
)  # fmt: skip
#: Members on one page, unless the address asks for another number (up to the app's most).
PAGE = 50
#: Digests on one page of the archive.
ARCHIVE_PAGE = 50
MEMBER_FILE = limits.MEMBER_FILE
UPLOAD_FIELD = "file"


def _choices() -> dict[str, Any]:
    return {
        "cadences": [c.value for c in Cadence],
        "all_channels": [c.value for c in Channel],
    }


def form_of_list(detail: dict[str, Any]) -> dict[str, Any]:
    """A list (as `list_detail` gives it) as the form's fields."""
    return {
        "slug": detail.get("slug", ""),
        "name": detail.get("name", ""),
        "description": detail.get("description", ""),
        "follows": "\n".join(detail.get("follows", [])),
        "cadence": detail.get("cadence", Cadence.WEEKLY.value),
        "schedule": detail.get("schedule", ""),
        "time_zone": detail.get("time_zone", "UTC"),
        "template": detail.get("template") or "",
        "channels": list(detail.get("channels", [Channel.EMAIL.value])),
        "protect_content": bool(detail.get("protect_content", False)),
    }


def typed_form(form: FormData) -> dict[str, Any]:
    typed: dict[str, Any] = {name: text_of(form, name) for name in FIELDS}
    typed["channels"] = [v for v in form.getlist("channels") if isinstance(v, str)]
    typed["protect_content"] = text_of(form, "protect_content") == "yes"
    return typed


def spec_of_form(typed: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The form as `save_list` takes it, and the form's line of each follow (to name it)."""
    follows = lines(typed["follows"])
    spec: dict[str, Any] = {
        "slug": typed["slug"],
        "name": typed["name"],
        "description": typed["description"],
        "follows": [f for _, f in follows],
        "cadence": typed["cadence"],
        "time_zone": typed["time_zone"],
        "channels": typed["channels"],
        "template": typed["template"].strip() or None,
        "protect_content": typed["protect_content"],
    }
    if typed["schedule"].strip() or typed["cadence"] != Cadence.INSTANT.value:
        spec["schedule"] = typed["schedule"]
    return spec, [n for n, _ in follows]


def form_errors(problems: list[Problem], follow_lines: list[int]) -> dict[str, str]:
    """Each problem beside its field: 'follows.1' is the follows box, the line it was typed
    on; 'channels.0' the channels; anything else above the form."""
    named: list[Problem] = []
    for problem in problems:
        parts = (problem.field or "").split(".")
        top, reason = parts[0], problem.reason
        if top == "follows" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            line = follow_lines[index] if index < len(follow_lines) else index + 1
            reason = f"line {line}: {reason}"
        elif top not in (*FIELDS, "channels", "protect_content"):
            top = ""
        named.append(Problem(problem.where, top, reason))
    return errors_by_field(named)


def _shown(typed: dict[str, Any]) -> dict[str, Any]:
    return {k: shown(v) if isinstance(v, str) else v for k, v in typed.items()}


def _not_found(request: Request, signed: sessions.SignedIn, exc: Exception) -> HTMLResponse:
    return console_page(request, signed, "not_found", status=404, what=str(exc))


def _owner_only(signed: sessions.SignedIn) -> None:
    """Only those who run every list make a new one (a coordinator runs the lists named for
    them, and an editor none)."""
    if not signed.actor.sees_every_list:
        raise NotAllowed(f"your role ({signed.actor.role}) may not make new lists")


# --- the lists -----------------------------------------------------------------------------------


@router.get("/admin/lists", response_class=HTMLResponse)
async def lists(request: Request, signed: Reader) -> Response:
    state = state_of(request)
    found = await tasks.lists_for(state.store, signed.actor)
    return console_page(
        request, signed, "lists", lists=found,
        may_create=signed.actor.sees_every_list and signed.actor.may(Area.LISTS, write=True),
    )  # fmt: skip


# --- a new list (before /admin/lists/{slug}) ----------------------------------------------------


def _new_page(
    request: Request, signed: sessions.SignedIn, form: dict[str, Any], status: int = 200,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    return console_page(
        request, signed, "list_new", status=status, form=form, errors=errors or {}, **_choices()
    )


@router.get("/admin/lists/new", response_class=HTMLResponse)
async def new_list(request: Request, signed: Writer) -> Response:
    _owner_only(signed)
    blank = form_of_list({"cadence": "weekly", "schedule": "mon 07:00", "follows": []})
    return _new_page(request, signed, blank)


@router.post("/admin/lists/new", response_class=HTMLResponse)
async def create_list(request: Request, signed: Writer) -> Response:
    _owner_only(signed)
    state = state_of(request)
    typed = typed_form(await posted(request, signed))
    spec, lines = spec_of_form(typed)
    try:
        saved = await tasks.save_list(state.store, state.settings, signed.actor, spec)
    except (InputError, ConflictError) as exc:
        errors = form_errors(exc.problems or [Problem("", "", str(exc))], lines)
        status = 409 if isinstance(exc, ConflictError) else 400
        return _new_page(request, signed, _shown(typed), status=status, errors=errors)
    return see_other(f"/admin/lists/{saved.slug}?saved=created")


# --- one list ------------------------------------------------------------------------------------


async def _list_page(
    request: Request, signed: sessions.SignedIn, slug: str, status: int = 200, **context: Any
) -> HTMLResponse:
    state = state_of(request)
    detail = await tasks.list_detail(state.store, signed.actor, slug)
    context.setdefault("form", form_of_list(detail))
    return console_page(request, signed, "list", status=status, lst=detail, **_choices(), **context)


@router.get("/admin/lists/{slug}", response_class=HTMLResponse)
async def list_page(request: Request, signed: Reader, slug: str, saved: str = "") -> Response:
    may_list(signed.actor, Area.LISTS, slug)
    try:
        return await _list_page(request, signed, slug, saved=saved[:40])
    except NotFoundError as exc:
        return _not_found(request, signed, exc)


@router.post("/admin/lists/{slug}", response_class=HTMLResponse)
async def save_list(request: Request, signed: Writer, slug: str) -> Response:
    may_list(signed.actor, Area.LISTS, slug, write=True)
    state = state_of(request)
    typed = typed_form(await posted(request, signed))
    typed["slug"] = slug
    spec, lines = spec_of_form(typed)
    try:
        saved = await tasks.save_list(state.store, state.settings, signed.actor, spec, slug=slug)
    except NotFoundError as exc:
        return _not_found(request, signed, exc)
    except (InputError, ConflictError) as exc:
        errors = form_errors(exc.problems or [Problem("", "", str(exc))], lines)
        status = 409 if isinstance(exc, ConflictError) else 400
        return await _list_page(
            request, signed, slug, status=status, form=_shown(typed), errors=errors
        )
    return see_other(f"/admin/lists/{slug}?saved={'changed' if saved.changed else 'same'}")


# --- members -------------------------------------------------------------------------------------


def _after(text: str) -> int | None:
    """A page's `after` as the address gives it; -1 for what is no member's id (named)."""
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) <= 20 else -1


async def _members_page(
    request: Request,
    signed: sessions.SignedIn,
    slug: str,
    *,
    after: str = "",
    limit: int = PAGE,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    state = state_of(request)
    detail = await tasks.list_detail(state.store, signed.actor, slug)
    number = _after(after)
    try:
        found = await tasks.list_members(state.store, signed.actor, slug, after=number, limit=limit)
    except InputError as exc:
        problem = exc.problems[0]
        return console_page(
            request, signed, "not_found", status=400, what=f"{problem.field}: {problem.reason}"
        )
    context.setdefault("member", {"email": "", "name": ""})
    return console_page(
        request, signed, "list_members", status=status, lst=detail, found=found,
        after=after if number is not None else "", limit=limit, **context,
    )  # fmt: skip


@router.get("/admin/lists/{slug}/members", response_class=HTMLResponse)
async def members(
    request: Request,
    signed: Reader,
    slug: str,
    after: str = "",
    limit: int = PAGE,
    saved: str = "",
    who: str = "",
) -> Response:
    may_list(signed.actor, Area.LISTS, slug)
    try:
        return await _members_page(
            request, signed, slug, after=after[:30], limit=limit, saved=saved[:40],
            who=shown(who[: limits.EMAIL]),
        )  # fmt: skip
    except NotFoundError as exc:
        return _not_found(request, signed, exc)


@router.post("/admin/lists/{slug}/members", response_class=HTMLResponse)
async def add_member(request: Request, signed: Writer, slug: str) -> Response:
    may_list(signed.actor, Area.LISTS, slug, write=True)
    state = state_of(request)
    form = await posted(request, signed)
    email, name = text_of(form, "email"), text_of(form, "name")
    try:
        added = await tasks.add_list_member(
            state.store, state.settings, signed.actor, slug, email, name=name
        )
    except NotFoundError as exc:
        return _not_found(request, signed, exc)
    except (InputError, ConflictError) as exc:
        errors = errors_by_field(exc.problems or [Problem("", "", str(exc))])
        typed_again = {"email": shown(email)[: limits.EMAIL + 1], "name": shown(name)}
        return await _members_page(
            request, signed, slug, status=409 if isinstance(exc, ConflictError) else 400,
            errors=errors, member=typed_again,
        )  # fmt: skip
    outcome = "added" if added.changed else "already"
    return see_other(f"/admin/lists/{slug}/members?saved={outcome}&who={quote(added.email)}")


@router.get("/admin/lists/{slug}/members/remove", response_class=HTMLResponse)
async def confirm_remove(request: Request, signed: Writer, slug: str, email: str = "") -> Response:
    may_list(signed.actor, Area.LISTS, slug, write=True)
    state = state_of(request)
    try:
        detail = await tasks.list_detail(state.store, signed.actor, slug)
    except NotFoundError as exc:
        return _not_found(request, signed, exc)
    return console_page(
        request, signed, "list_member_remove", lst=detail, email=shown(email[: limits.EMAIL])
    )


@router.post("/admin/lists/{slug}/members/remove", response_class=HTMLResponse)
async def remove_member(request: Request, signed: Writer, slug: str) -> Response:
    may_list(signed.actor, Area.LISTS, slug, write=True)
    state = state_of(request)
    form = await posted(request, signed)
    email = text_of(form, "email")
    try:
        removed = await tasks.remove_list_member(state.store, signed.actor, slug, email)
    except NotFoundError as exc:
        return _not_found(request, signed, exc)
    except (InputError, ConflictError) as exc:
        errors = errors_by_field(exc.problems or [Problem("", "", str(exc))])
        return await _members_page(
            request, signed, slug, status=409 if isinstance(exc, ConflictError) else 400,
            errors={"": errors.get("email") or next(iter(errors.values()))},
        )  # fmt: skip
    outcome = "removed" if removed.changed else "not-member"
    return see_other(f"/admin/lists/{slug}/members?saved={outcome}&who={quote(removed.email)}")


# --- import and export ---------------------------------------------------------------------------


async def _import_page(
    request: Request, signed: sessions.SignedIn, slug: str, status: int = 200, **context: Any
) -> HTMLResponse:
    state = state_of(request)
    detail = await tasks.list_detail(state.store, signed.actor, slug)
    context.setdefault("problems", [])
    context.setdefault("report", None)
    context.setdefault("skip", False)
    return console_page(
        request, signed, "list_import", status=status, lst=detail, most=MEMBER_FILE, **context
    )


@router.get("/admin/lists/{slug}/import", response_class=HTMLResponse)
async def import_form(request: Request, signed: Writer, slug: str) -> Response:
    may_list(signed.actor, Area.LISTS, slug, write=True)
    try:
        return await _import_page(request, signed, slug)
    except NotFoundError as exc:
        return _not_found(request, signed, exc)


@router.post("/admin/lists/{slug}/import", response_class=HTMLResponse)
async def import_members(request: Request, signed: Writer, slug: str) -> Response:
    may_list(signed.actor, Area.LISTS, slug, write=True)
    state = state_of(request)
    form = await posted(request, signed)
    sent = form.get(UPLOAD_FIELD)
    skip = text_of(form, "skip_invalid") == "yes"
    try:
        if not isinstance(sent, UploadFile) or not sent.filename:
            return await _import_page(
                request, signed, slug, status=400, skip=skip,
                errors={"file": "choose a CSV file of members"},
            )  # fmt: skip
        try:
            data = await sent.read(MEMBER_FILE + 1)
        finally:
            await sent.close()
        name = sent.filename[: limits.NAME]
        if len(data) > MEMBER_FILE:
            problem = (
                f"{shown(name)} is larger than {MEMBER_FILE:,} bytes ({MEMBER_FILE // 1_000_000}"
                " MB), the most a member file may be: split it and upload the parts"
            )
            return await _import_page(
                request, signed, slug, status=413, skip=skip, errors={"file": problem}
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"not UTF-8 text (byte {exc.start}): save it as UTF-8 CSV and upload it again"
            return await _import_page(
                request, signed, slug, status=400, skip=skip, errors={"file": problem}
            )
        try:
            report = await tasks.import_list_members(
                state.store, state.settings, signed.actor, slug, text, name=name,
                skip_invalid=skip,
            )  # fmt: skip
        except InputError as exc:
            return await _import_page(
                request, signed, slug, status=400, skip=skip, problems=exc.problems,
                errors={"file": "see below"},
            )  # fmt: skip
        return await _import_page(
            request, signed, slug, report=report, file_name=shown(name), skip=skip
        )
    except NotFoundError as exc:
        return _not_found(request, signed, exc)


async def _chunks(lines: AsyncIterator[str], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """Lines gathered into pieces of about `size` bytes: a response sends each as it comes,
    without a send per line or the whole text."""
    piece: list[str] = []
    held = 0
    async for line in lines:
        piece.append(line)
        held += len(line)
        if held >= size:
            yield "".join(piece).encode("utf-8")
            piece, held = [], 0
    if piece:
        yield "".join(piece).encode("utf-8")


@router.get("/admin/lists/{slug}/export")
async def export(request: Request, signed: Reader, slug: str) -> Response:
    may_list(signed.actor, Area.LISTS, slug)
    state = state_of(request)
    try:
        lines = await tasks.export_list_lines(state.store, signed.actor, slug)
    except NotFoundError as exc:
        return _not_found(request, signed, exc)
    return StreamingResponse(
        _chunks(lines),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{slug}-members.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- the digest ----------------------------------------------------------------------------------


@router.get("/admin/lists/{slug}/digest", response_class=HTMLResponse)
async def digest(request: Request, signed: Reader, slug: str, recent: int = 0) -> Response:
    may_list(signed.actor, Area.LISTS, slug)
    state = state_of(request)
    try:
        detail = await tasks.list_detail(state.store, signed.actor, slug)
        preview = await tasks.digest_preview(
            state.store, state.settings, signed.actor, slug, recent=recent
        )
    except NotFoundError as exc:
        return _not_found(request, signed, exc)
    except InputError as exc:
        return console_page(
            request, signed, "not_found", status=400,
            what=f"recent: {exc.problems[0].reason}" if exc.problems else str(exc),
        )  # fmt: skip
    email = preview.messages.get(Channel.EMAIL)
    telegram = preview.messages.get(Channel.TELEGRAM)
    return console_page(
        request, signed, "list_digest", lst=detail, preview=preview, email=email,
        telegram_parts=split_telegram_html(telegram.text) if telegram else [],
        recent=recent,
    )  # fmt: skip


@router.get("/admin/lists/{slug}/send", response_class=HTMLResponse)
async def confirm_send(request: Request, signed: Writer, slug: str) -> Response:
    may_list(signed.actor, Area.LISTS, slug, write=True)
    state = state_of(request)
    try:
        detail = await tasks.list_detail(state.store, signed.actor, slug)
    except NotFoundError as exc:
        return _not_found(request, signed, exc)
    return console_page(request, signed, "list_send", lst=detail, sent=None)


@router.post("/admin/lists/{slug}/send", response_class=HTMLResponse)
async def send(request: Request, signed: Writer, slug: str) -> Response:
    may_list(signed.actor, Area.LISTS, slug, write=True)
    state = state_of(request)
    await posted(request, signed)
    try:
        sent = await tasks.send_now(state.store, state.settings, signed.actor, slug)
        detail = await tasks.list_detail(state.store, signed.actor, slug)
    except NotFoundError as exc:
        return _not_found(request, signed, exc)
    return console_page(request, signed, "list_send", lst=detail, sent=sent)


@router.get("/admin/lists/{slug}/archive", response_class=HTMLResponse)
async def archive(
    request: Request,
    signed: Reader,
    slug: str,
    before: str = "",
    limit: int = ARCHIVE_PAGE,
    digest: str = "",
) -> Response:
    """Every digest the list sent, newest first; `digest` (a period): how that one went."""
    may_list(signed.actor, Area.LISTS, slug)
    state = state_of(request)
    store, settings, actor = state.store, state.settings, signed.actor
    try:
        detail = await tasks.list_detail(store, actor, slug)
        found = await tasks.digest_archive(
            store, settings, actor, slug, before=before or None, limit=limit
        )
        delivery = (
            await tasks.digest_delivery(store, settings, actor, slug, digest) if digest else None
        )
    except NotFoundError as exc:
        return _not_found(request, signed, exc)
    except InputError as exc:
        problem = exc.problems[0] if exc.problems else Problem("", "", str(exc))
        return console_page(
            request, signed, "not_found", status=400, what=f"{problem.field}: {problem.reason}"
        )
    return console_page(
        request, signed, "list_archive", lst=detail, digests=found, delivery=delivery,
        before=before, limit=limit,
        next_before=found[-1].period if len(found) == limit else "",
    )  # fmt: skip
