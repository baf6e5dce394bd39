"""The Updates section: on a case's page, a new update previewed (the alert as email and
Telegram render it) with its audience before it is published, a test sent to oneself, and
publishing it; correcting an update; withdrawing one after a page showing what it stops; and
the latest updates across cases. Editors and owners write; coordinators read."""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from notifier import app as tasks
from notifier import limits
from notifier.app import DRAFT, check_draft, sessions
from notifier.domain.actors import Area
from notifier.domain.translations import UPDATE_TEXTS
from notifier.errors import InputError, NotFoundError, Problem
from notifier.web.console.access import (
    console_page,
    errors_by_field,
    need,
    posted,
    see_other,
    state_of,
    text_of,
)
from notifier.web.console.cases import case_page
from notifier.web.console.translation_fields import (
    field_of_problem,
    form_of_translations,
    language_labels,
    languages_of,
    typed_translations,
    update_translations_of_form,
)
from notifier.web.pages import CONSOLE_HEADERS, page

router = APIRouter(include_in_schema=False)
Reader = Annotated[sessions.SignedIn, Depends(need(Area.UPDATES))]
Writer = Annotated[sessions.SignedIn, Depends(need(Area.UPDATES, write=True))]

#: The update form's fields.
FIELDS = ("date", "title", "body", "source", "url", "urgent")
PAGE = 50


def typed_draft(form: FormData) -> dict[str, str]:
    return {name: text_of(form, name) for name in FIELDS}


def draft_of(typed: dict[str, str]) -> tasks.UpdateDraft:
    return tasks.UpdateDraft(
        title=typed["title"],
        day=typed["date"],
        body=typed["body"],
        source=typed["source"] or None,
        url=typed["url"] or None,
        urgent=typed["urgent"] == "yes",
    )


def fingerprint(typed: dict[str, str]) -> str:
    """What the preview showed: publishing checks the form still says that."""
    return hashlib.sha256(json.dumps(typed, sort_keys=True).encode()).hexdigest()[:32]


def _shown(typed: dict[str, str]) -> dict[str, str]:
    return {k: v.replace("\x00", "") for k, v in typed.items()}


def _id_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() and 1 <= int(text) <= limits.ROW_ID else None


async def _case_or_404(
    request: Request, signed: sessions.SignedIn, slug: str, **context: Any
) -> Response:
    try:
        return await case_page(request, signed, slug, **context)
    except NotFoundError as exc:
        return console_page(request, signed, "not_found", status=404, what=str(exc))


#: The live preview's script (served from here: the console's pages run no inline script).
LIVE_PREVIEW_JS = files("notifier.web.console").joinpath("live-preview.js").read_bytes()


@router.get("/admin/live-preview.js")
async def live_preview_script() -> Response:
    return Response(
        LIVE_PREVIEW_JS,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/admin/cases/{slug}/updates/preview", response_class=HTMLResponse)
async def live_preview(request: Request, signed: Writer, slug: str) -> Response:
    """The audience and the preview of the form as it stands, as a fragment of the case page
    (what live-preview.js puts in it as the editor types); 400 with the fields to put right."""
    state = state_of(request)
    typed = typed_draft(await posted(request, signed))
    context: dict[str, Any] = {"draft": _shown(typed), "draft_errors": {}, "previewed": ""}
    status = 200
    try:
        context |= await _previewed(request, signed, slug[: limits.SLUG], typed)
    except NotFoundError as exc:
        return console_page(request, signed, "not_found", status=404, what=str(exc))
    except InputError as exc:
        status = 400
        context |= {"preview": "", "audience": "", "draft_errors": errors_by_field(exc.problems)}
    return page(state.env, "admin/_update_preview", status, headers=CONSOLE_HEADERS, **context)


async def _previewed(
    request: Request, signed: sessions.SignedIn, slug: str, typed: dict[str, str]
) -> dict[str, Any]:
    """The alert as each channel renders this draft, who would get it, and the fingerprint
    Publish checks: what the Preview button and the live preview show alike."""
    state = state_of(request)
    draft = draft_of(typed)
    return {
        "preview": await tasks.preview_update(
            state.store, state.settings, signed.actor, slug, draft
        ),
        "audience": await tasks.update_audience(
            state.store, signed.actor, slug, urgent=draft.urgent
        ),
        "previewed": fingerprint(typed),
    }


@router.post("/admin/cases/{slug}/updates", response_class=HTMLResponse)
async def draft(request: Request, signed: Writer, slug: str) -> Response:
    """One form, three buttons: Preview (with the audience), Send a test to myself, Publish
    (only what was previewed: a draft changed since is previewed again first)."""
    state = state_of(request)
    form = await posted(request, signed)
    typed = typed_draft(form)
    action = text_of(form, "action")
    shown = _shown(typed)
    draft = draft_of(typed)
    slug = slug[: limits.SLUG]
    try:
        context: dict[str, Any] = {"draft": shown} | await _previewed(request, signed, slug, typed)
    except NotFoundError as exc:
        return console_page(request, signed, "not_found", status=404, what=str(exc))
    except InputError as exc:
        return await _case_or_404(
            request, signed, slug, status=400, draft=shown,
            draft_errors=errors_by_field(exc.problems),
        )  # fmt: skip
    if action == "publish":
        if text_of(form, "previewed") != fingerprint(typed):
            context["notice"] = "The update changed since its preview: look at it again below."
            return await _case_or_404(request, signed, slug, status=409, **context)
        day, _ = check_draft(draft)
        added = await tasks.add_update(
            state.store, slug, day=day, title=draft.title, body=draft.body,
            source=draft.source, url=draft.url, urgent=draft.urgent, by=signed.actor,
        )  # fmt: skip
        outcome = "published" if added.created else "already"
        return see_other(f"/admin/cases/{added.case}?saved={outcome}#updates")
    if action == "test" and state.email_sender is not None:
        sender = state.email_sender()
        try:
            context["sent"] = await tasks.test_send(
                state.store, state.settings, signed.actor, slug, draft,
                to_email=signed.email, sender=sender,
            )  # fmt: skip
        finally:
            await sender.close()
    return await _case_or_404(request, signed, slug, **context)


# --- the latest updates ---------------------------------------------------------------------------


@router.get("/admin/updates", response_class=HTMLResponse)
async def updates(
    request: Request, signed: Reader, before: str = "", limit: int = PAGE
) -> Response:
    state = state_of(request)
    after = _id_or_none(before) if before else None
    if before and after is None:
        return console_page(
            request, signed, "not_found", status=404, what=f"no page before {before[:20]!r}"
        )
    try:
        found = await tasks.latest_updates(state.store, signed.actor, before=after, limit=limit)
    except InputError as exc:
        return console_page(request, signed, "not_found", status=400, what=str(exc))
    return console_page(
        request,
        signed,
        "updates",
        found=found,
        limit=limit,
        writer=signed.actor.may(Area.UPDATES, write=True),
    )


# --- one update: correct it, withdraw it ---------------------------------------------------------


async def _update_or_none(
    request: Request, signed: sessions.SignedIn, update_id: str
) -> tuple[dict[str, Any], dict[str, Any], tasks.WithdrawPreview] | None:
    """The update (as its case's page lists it, with body and source), its case, and what
    withdrawing it would stop; None if there is no such update."""
    state = state_of(request)
    number = _id_or_none(update_id)
    if number is None:
        return None
    try:
        stopping = await tasks.withdraw_preview(state.store, signed.actor, number)
        detail = await tasks.case_detail(state.store, signed.actor, stopping.update["case"])
    except NotFoundError:
        return None
    found = next((u for u in detail["updates"] if u["id"] == number), None)
    if found is None:
        return None
    return found, detail, stopping


def _form_of_update(update: dict[str, Any]) -> dict[str, str]:
    source = update.get("source") or {}
    return {
        "date": update["date"],
        "title": update["title"],
        "body": update["body"],
        "source": source.get("name") or "",
        "url": source.get("url") or "",
        "urgent": "yes" if update["severity"] == "urgent" else "",
    } | form_of_translations(update.get("translations") or {}, UPDATE_TEXTS)


def _translation_errors(problems: list[Problem]) -> list[Problem]:
    """Problems with the translations as the form's fields name them (`tr:de:title`)."""
    return [
        field_of_problem(p, {}) if (p.field or "").startswith("translations") else p
        for p in problems
    ]


def _missing(request: Request, signed: sessions.SignedIn, update_id: str) -> HTMLResponse:
    return console_page(
        request, signed, "not_found", status=404, what=f"no update {update_id[:20]!r}"
    )


@router.get("/admin/updates/{update_id}", response_class=HTMLResponse)
async def update_page(
    request: Request, signed: Writer, update_id: str, saved: str = ""
) -> Response:
    found = await _update_or_none(request, signed, update_id)
    if found is None:
        return _missing(request, signed, update_id)
    update, case, stopping = found
    draft = _form_of_update(update)
    return console_page(
        request, signed, "update", update=update, case=case, stopping=stopping,
        draft=draft, draft_errors={}, saved=saved[:40],
        languages=language_labels(languages_of(draft)),
    )  # fmt: skip


@router.post("/admin/updates/{update_id}", response_class=HTMLResponse)
async def correct(request: Request, signed: Writer, update_id: str) -> Response:
    state = state_of(request)
    form = await posted(request, signed)
    found = await _update_or_none(request, signed, update_id)
    if found is None:
        return _missing(request, signed, update_id)
    update, case, stopping = found
    translated = typed_translations(form, UPDATE_TEXTS)
    typed = typed_draft(form) | translated
    draft = draft_of(typed)
    # The languages whose fields were posted: an empty one removes that translation.
    posted_languages = {name.split(":")[1] for name in translated}
    try:
        day, _ = check_draft(draft)
        corrected = await tasks.correct_update(
            state.store, update["id"], where=DRAFT, title=draft.title, body=draft.body, day=day,
            source=draft.source, url=draft.url, urgent=draft.urgent, by=signed.actor,
            translations=update_translations_of_form(translated, sorted(posted_languages)),
        )  # fmt: skip
    except InputError as exc:
        errors = errors_by_field(_translation_errors(exc.problems))
        if "update" in errors:
            errors[""] = errors.pop("update")
        return console_page(
            request, signed, "update", status=400, update=update, case=case, stopping=stopping,
            draft=_shown(typed), draft_errors=errors,
            languages=language_labels(languages_of(typed)),
        )  # fmt: skip
    saved = "corrected" if corrected.changed else "same"
    return see_other(f"/admin/updates/{update['id']}?saved={saved}")


@router.get("/admin/updates/{update_id}/withdraw", response_class=HTMLResponse)
async def confirm_withdraw(request: Request, signed: Writer, update_id: str) -> Response:
    found = await _update_or_none(request, signed, update_id)
    if found is None:
        return _missing(request, signed, update_id)
    update, case, stopping = found
    return console_page(
        request, signed, "update_withdraw", update=update, case=case, stopping=stopping
    )


@router.post("/admin/updates/{update_id}/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request, signed: Writer, update_id: str) -> Response:
    state = state_of(request)
    await posted(request, signed)
    number = _id_or_none(update_id)
    if number is None:
        return _missing(request, signed, update_id)
    try:
        done = await tasks.withdraw_update(state.store, number, by=signed.actor)
    except NotFoundError:
        return _missing(request, signed, update_id)
    if done.already:
        notice = f"“{done.update['title']}” had been withdrawn already: nothing more stopped."
    else:
        notice = (
            f"“{done.update['title']}” is withdrawn: {done.alerts_stopped} alerts and "
            f"{done.digests_stopped} digests stopped; {done.sent} alerts had gone out."
        )
    return await _case_or_404(request, signed, done.update["case"], notice=notice)
