"""The Cases section: the list (search by any spelling, filter by country and status, paged by
slug), a case's page with a form for every field, a new case, and a case file uploaded (with
the import's per-line errors). Editors and owners change cases; coordinators read them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from notifier import app as tasks
from notifier import limits
from notifier.app import check_case_spec, sessions
from notifier.domain import CaseStatus
from notifier.domain.actors import Area
from notifier.domain.translations import CASE_TEXTS
from notifier.domain.vocabulary import ActionKind
from notifier.errors import InputError, NotFoundError, Problem
from notifier.store.models import utcnow
from notifier.web.console.access import (
    console_page,
    errors_by_field,
    need,
    posted,
    see_other,
    state_of,
    text_of,
)
from notifier.web.console.translation_fields import (
    ACTIONS,
    PREFIX,
    field_name,
    field_of_problem,
    form_of_translations,
    language_labels,
    languages_of,
    translations_of_form,
    typed_translations,
)
from notifier.web.console.values import lines, shown

router = APIRouter(include_in_schema=False)
Reader = Annotated[sessions.SignedIn, Depends(need(Area.CASES))]
Writer = Annotated[sessions.SignedIn, Depends(need(Area.CASES, write=True))]

#: The case form's fields, as the page names them.
FIELDS = (
    "slug", "name", "spellings", "country", "role", "status", "summary", "letter_address",
    "letter_guidance", "actions", "prayer", "sources", "published",
)  # fmt: skip
#: The list fields, one item a line, parts split by this.
BAR = "|"
PAGE = 50


def form_of_spec(spec: dict[str, Any]) -> dict[str, str]:
    """A case (as `case_detail`'s `spec`) as the form's text fields."""
    letter = spec.get("letter") or {}
    actions = [
        f" {BAR} ".join([a["kind"], a["text"], *([a["address"]] if a.get("address") else [])])
        for a in spec.get("actions", [])
    ]
    sources = [
        f"{s['name']} {BAR} {s['url']}" if s.get("url") else s["name"]
        for s in spec.get("sources", [])
    ]
    return {
        "slug": spec.get("slug", ""),
        "name": spec.get("name", ""),
        "spellings": "\n".join(spec.get("spellings", [])),
        "country": spec.get("country", ""),
        "role": spec.get("role", ""),
        "status": spec.get("status", ""),
        "summary": spec.get("summary", ""),
        "letter_address": letter.get("address", "") or "",
        "letter_guidance": letter.get("guidance", "") or "",
        "actions": "\n".join(actions),
        "prayer": spec.get("prayer", ""),
        "sources": "\n".join(sources),
        "published": "yes" if spec.get("published", True) else "",
    } | form_of_translations(spec.get("translations") or {}, CASE_TEXTS)


def typed_form(form: FormData) -> dict[str, str]:
    return {name: text_of(form, name) for name in FIELDS} | typed_translations(form, CASE_TEXTS)


def spec_of_form(
    typed: dict[str, str],
) -> tuple[dict[str, Any], dict[str, list[int]], list[Problem]]:
    """The form as `save_case` takes it; for each list field, the form's line of each item
    (to name it in a problem); and the problems only the form's layout can have."""
    problems: list[Problem] = []
    numbers: dict[str, list[int]] = {}
    spellings = lines(typed["spellings"])
    numbers["spellings"] = [n for n, _ in spellings]
    actions: list[dict[str, str]] = []
    numbers["actions"] = []
    for n, line in lines(typed["actions"]):
        parts = [p.strip() for p in line.split(BAR)]
        if len(parts) < 2 or len(parts) > 3:
            problems.append(
                Problem(
                    "case form",
                    "actions",
                    f"line {n}: write it as 'kind {BAR} what to do' or "
                    f"'kind {BAR} what to do {BAR} address'",
                )
            )
            continue
        action = {"kind": parts[0].lower(), "text": parts[1]}
        if len(parts) == 3 and parts[2]:
            action["address"] = parts[2]
        actions.append(action)
        numbers["actions"].append(n)
    sources: list[dict[str, str]] = []
    numbers["sources"] = []
    for n, line in lines(typed["sources"]):
        name, bar, url = line.rpartition(BAR) if BAR in line else (line, "", "")
        source = {"name": name.strip()}
        if bar and url.strip():
            source["url"] = url.strip()
        sources.append(source)
        numbers["sources"].append(n)
    letter = None
    if typed["letter_address"].strip() or typed["letter_guidance"].strip():
        letter = {"address": typed["letter_address"]}
        if typed["letter_guidance"].strip():
            letter["guidance"] = typed["letter_guidance"]
    translations, action_lines = translations_of_form(typed)
    for language, found in action_lines.items():
        numbers[field_name(language, ACTIONS)] = found
    spec = {
        "slug": typed["slug"],
        "name": typed["name"],
        "spellings": [s for _, s in spellings],
        "country": typed["country"],
        "role": typed["role"],
        "status": typed["status"],
        "summary": typed["summary"],
        "letter": letter,
        "actions": actions,
        "prayer": typed["prayer"],
        "sources": sources,
        "published": typed["published"] == "yes",
        "translations": translations,
    }
    return spec, numbers, problems


def _every_problem(spec: dict[str, Any], problems: list[Problem]) -> None:
    """The form's own problems (a line not split as the page says) with every other one."""
    if not problems:
        return
    try:
        check_case_spec(spec)
    except InputError as exc:
        problems = problems + exc.problems
    raise InputError(problems)


def form_errors(problems: list[Problem], numbers: dict[str, list[int]]) -> dict[str, str]:
    """Each problem beside its form field: 'sources.1.url' is the sources box, the line it
    was typed on; 'letter.address' the letter's address box."""
    named: list[Problem] = []
    for problem in problems:
        parts = (problem.field or "").split(".")
        top = parts[0]
        reason = problem.reason
        if top == "translations":
            lines_of = {
                name.split(":")[1]: found
                for name, found in numbers.items()
                if name.startswith(f"{PREFIX}:")
            }
            named.append(field_of_problem(problem, lines_of))
            continue
        if top == "letter":
            top = "letter_guidance" if parts[1:2] == ["guidance"] else "letter_address"
        elif top in numbers and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            line = numbers[top][index] if index < len(numbers[top]) else index + 1
            what = f" ({parts[2]})" if len(parts) > 2 else ""
            reason = f"line {line}{what}: {reason}"
        elif top not in FIELDS:
            top = ""
        named.append(Problem(problem.where, top, reason))
    return errors_by_field(named)


def _choices() -> dict[str, Any]:
    return {
        "statuses": [s.value for s in CaseStatus],
        "kinds": [k.value for k in ActionKind],
        "bar": BAR,
    }


# --- the list -----------------------------------------------------------------------------------


@router.get("/admin/cases", response_class=HTMLResponse)
async def cases(
    request: Request,
    signed: Reader,
    q: str = "",
    country: str = "",
    status: str = "",
    after: str = "",
    limit: int = PAGE,
) -> Response:
    state = state_of(request)
    filters = {
        "q": shown(q[: limits.NAME + 1]),
        "country": shown(country[: limits.COUNTRY + 1]),
        "status": shown(status[:40]),
        "limit": limit,
    }
    try:
        found = await tasks.search_cases(
            state.store,
            signed.actor,
            text=q or None,
            country=country or None,
            status=status or None,
            after=after or None,
            limit=limit,
        )
    except InputError as exc:
        errors = errors_by_field(exc.problems)
        if "text" in errors:
            errors["q"] = errors.pop("text")
        for name in [n for n in errors if n not in ("q", "country", "status", "")]:
            errors[""] = f"{name}: {errors.pop(name)}"  # the page's address: after, limit
        return console_page(
            request, signed, "cases", status=400, errors=errors, found=None, filters=filters,
            writer=signed.actor.may(Area.CASES, write=True), **_choices(),
        )  # fmt: skip
    return console_page(
        request, signed, "cases", found=found, filters=filters, after=after,
        writer=signed.actor.may(Area.CASES, write=True), **_choices(),
    )  # fmt: skip


# --- a new case, an upload (before /admin/cases/{slug}) ----------------------------------------


def _new_page(
    request: Request, signed: sessions.SignedIn, typed: dict[str, str], status: int = 200,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    return console_page(
        request, signed, "case_new", status=status, form=typed, errors=errors or {},
        languages=language_labels(languages_of(typed)), **_choices(),
    )  # fmt: skip


@router.get("/admin/cases/new", response_class=HTMLResponse)
async def new_case(request: Request, signed: Writer) -> Response:
    blank = form_of_spec({"status": CaseStatus.DETAINED.value, "published": True})
    return _new_page(request, signed, blank)


@router.post("/admin/cases/new", response_class=HTMLResponse)
async def create_case(request: Request, signed: Writer) -> Response:
    state = state_of(request)
    typed = typed_form(await posted(request, signed))
    spec, numbers, problems = spec_of_form(typed)
    try:
        _every_problem(spec, problems)
        saved = await tasks.save_case(state.store, signed.actor, spec)
    except InputError as exc:
        typed_again = {k: shown(v) for k, v in typed.items()}
        errors = form_errors(exc.problems or [Problem("", "", str(exc))], numbers)
        return _new_page(request, signed, typed_again, status=400, errors=errors)
    return see_other(f"/admin/cases/{saved.slug}?saved=created")


UPLOAD_FIELD = "file"


def _upload_page(
    request: Request, signed: sessions.SignedIn, status: int = 200, **context: object
) -> HTMLResponse:
    context.setdefault("problems", [])
    context.setdefault("report", None)
    return console_page(request, signed, "case_upload", status=status, **context)


@router.get("/admin/cases/upload", response_class=HTMLResponse)
async def upload_form(request: Request, signed: Writer) -> Response:
    return _upload_page(request, signed)


@router.post("/admin/cases/upload", response_class=HTMLResponse)
async def upload(request: Request, signed: Writer) -> Response:
    state = state_of(request)
    form = await posted(request, signed)
    sent = form.get(UPLOAD_FIELD)
    announce = text_of(form, "announce") == "yes"
    if not isinstance(sent, UploadFile) or not sent.filename:
        return _upload_page(request, signed, status=400, errors={"file": "choose a case file"})
    # A character is at most 4 bytes: past this the file is too long whatever it holds.
    try:
        data = await sent.read(limits.CASE_FILE * 4 + 1)
    finally:
        await sent.close()
    name = sent.filename
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start}): save it as UTF-8 and upload it again"
        return _upload_page(request, signed, status=400, errors={"file": problem})
    try:
        uploaded = await tasks.import_case_text(
            state.store, signed.actor, text, name=name, announce=announce
        )
    except InputError as exc:
        return _upload_page(
            request, signed, status=400, problems=exc.problems, errors={"file": "see below"}
        )
    return _upload_page(request, signed, report=uploaded.report, file_name=name)


# --- one case --------------------------------------------------------------------------------


def blank_draft() -> dict[str, str]:
    return {"date": utcnow().date().isoformat(), "title": "", "body": "", "source": "", "url": "",
            "urgent": ""}  # fmt: skip


async def case_page(
    request: Request,
    signed: sessions.SignedIn,
    slug: str,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A case's page: its fields (a form for writers), its updates, and the form to add one
    (with its preview and audience once asked for). NotFoundError if there is no such case."""
    state = state_of(request)
    detail = await tasks.case_detail(state.store, signed.actor, slug)
    context.setdefault("case_form", form_of_spec(detail["spec"]))
    context.setdefault("languages", language_labels(languages_of(context["case_form"])))
    context.setdefault("draft", blank_draft())
    for name in ("draft_errors", "preview", "audience", "sent", "previewed", "published"):
        context.setdefault(name, None)
    return console_page(
        request, signed, "case", status=status, case=detail,
        writer=signed.actor.may(Area.CASES, write=True),
        can_test=state.email_sender is not None and signed.actor.may(Area.UPDATES, write=True),
        **_choices(), **context,
    )  # fmt: skip


@router.get("/admin/cases/{slug}", response_class=HTMLResponse)
async def case(request: Request, signed: Reader, slug: str, saved: str = "") -> Response:
    try:
        return await case_page(request, signed, slug[: limits.SLUG], saved=saved[:40])
    except NotFoundError as exc:
        return console_page(request, signed, "not_found", status=404, what=str(exc))


@router.post("/admin/cases/{slug}", response_class=HTMLResponse)
async def save_case(request: Request, signed: Writer, slug: str) -> Response:
    state = state_of(request)
    typed = typed_form(await posted(request, signed))
    spec, numbers, problems = spec_of_form(typed)
    try:
        _every_problem(spec, problems)
        saved = await tasks.save_case(state.store, signed.actor, spec, slug=slug)
    except NotFoundError as exc:
        return console_page(request, signed, "not_found", status=404, what=str(exc))
    except InputError as exc:
        typed_again = {k: shown(v) for k, v in typed.items()}
        errors = form_errors(exc.problems or [Problem("", "", str(exc))], numbers)
        return await case_page(
            request, signed, slug, status=400, case_form=typed_again, errors=errors
        )
    return see_other(f"/admin/cases/{saved.slug}?saved={'changed' if saved.after else 'same'}")
