"""Cases as an administrator loads them: from case files, or one case as JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from notifier import limits
from notifier.app.access import require
from notifier.countries import fold, resolve_country
from notifier.domain import CaseStatus
from notifier.domain.actors import Actor, Area
from notifier.domain.case_specs import CaseSpec, translation_problems
from notifier.domain.text_fields import check_text, friendly_reason, too_long
from notifier.errors import ConflictError, InputError, NotFoundError, Problem
from notifier.ingest.case_files import parse_case_text
from notifier.store import audit
from notifier.store import cases as stored
from notifier.store import updates as stored_updates
from notifier.store.as_json import case_json
from notifier.store.audit import changes, record
from notifier.store.engine import Store
from notifier.store.models import Case


async def import_cases(
    store: Store,
    specs: Sequence[CaseSpec],
    *,
    by: Actor,
    announce: bool = False,
    dry_run: bool = False,
) -> stored.ImportReport:
    """Create or update each case and its updates (all or nothing). The updates of a case new to
    the store are its history, not sent to anyone unless `announce`; updates added to a case
    already here are news and go out. `dry_run`: report, change nothing."""
    require(by, Area.CASES, write=True)
    problems = [
        Problem(spec.slug, ".".join(str(p) for p in loc), reason)
        for spec in specs
        for loc, reason in translation_problems(spec)
    ]
    if problems:
        raise InputError(problems)
    async with store.sessions() as session, session.begin():
        report = await stored.import_cases(session, specs, announce_history=announce)
        audit.record(
            session,
            by,
            "case.import",
            ", ".join(spec.slug for spec in specs),
            after={
                "created": report.cases_created,
                "changed": report.cases_changed,
                "updates_added": report.updates_added,
                "updates_changed": report.updates_changed,
            },
        )
        if dry_run:
            await session.rollback()
    return report


# --- the console's Cases page ----------------------------------------------------------------

#: The most cases one page of a search shows.
PAGE_MOST = 200
#: The latest updates a case's page shows.
UPDATES_SHOWN = 200
#: Where a case form's problems are said to be.
FORM = "case form"


@dataclass(frozen=True)
class CasePage:
    """One page of a case search: each case as `case_json` shapes it (with how many updates
    and the latest one's date), and `after` to pass for the next page (None: the last)."""

    cases: list[dict[str, Any]]
    after: str | None


@dataclass(frozen=True)
class CaseSaved:
    slug: str
    created: bool
    #: The fields that changed, each as it was and as it is now (empty: nothing changed).
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True)
class CasesUploaded:
    """What a case file uploaded in the console changed (as `cases import` reports it)."""

    report: stored.ImportReport


def _search_words(text: str | None) -> list[str]:
    if text is None:
        return []
    try:
        check_text(text, limit=limits.NAME)
    except ValueError as exc:
        raise InputError.single("case search", "text", str(exc)) from None
    return fold(text).split()


def _matches(case: Case, words: list[str]) -> bool:
    """Every word of the search in one spelling (or the slug), accents and case aside:
    'kashkumb' and 'Kashkumbáev' both find Bakhytzhan Kashkumbayev."""
    return _names_match([case.slug.replace("-", " "), case.name, *case.spellings], words)


def _names_match(names: list[str], words: list[str]) -> bool:
    if not words:
        return True
    return any(all(w in fold(n) for w in words) for n in names)


async def search_cases(
    store: Store,
    by: Actor,
    *,
    text: str | None = None,
    country: str | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> CasePage:
    """Cases whose name or any spelling holds every word of `text` (any case, any accents),
    of `country` (a code or a name) and `status`, by slug; `after` a slug: the page after it.
    InputError naming each bad filter."""
    require(by, Area.CASES)
    problems: list[Problem] = []
    words: list[str] = []
    try:
        words = _search_words(text)
    except InputError as exc:
        problems += exc.problems
    code = None
    if country is not None and country.strip():
        try:
            code = resolve_country(check_text(country, limit=limits.COUNTRY))
        except (ValueError, NotFoundError) as exc:
            problems.append(Problem("case search", "country", str(exc)))
    wanted = None
    if status is not None and status.strip():
        wanted = next((s for s in CaseStatus if s.value == status.strip().lower()), None)
        if wanted is None:
            allowed = ", ".join(s.value for s in CaseStatus)
            problems.append(Problem("case search", "status", f"{status[:40]!r}: one of {allowed}"))
    if not 1 <= limit <= PAGE_MOST:
        problems.append(Problem("case search", "limit", f"from 1 to {PAGE_MOST}, not {limit}"))
    if after is not None:
        try:
            check_text(after, limit=limits.SLUG)
        except ValueError as exc:
            problems.append(Problem("case search", "after", str(exc)))
    if problems:
        raise InputError(problems)
    # Matched on the names alone (a few short columns); the page's cases are then read whole.
    # Without words the page is the database's to cut: no case beyond it is read at all.
    query = select(Case.id, Case.slug, Case.name, Case.spellings).order_by(Case.slug)
    if code is not None:
        query = query.where(Case.country == code)
    if wanted is not None:
        query = query.where(Case.status == wanted)
    if after:
        query = query.where(Case.slug > after)
    if not words:
        query = query.limit(limit + 1)
    matched: list[int] = []
    async with store.read() as session:
        # Cases are a network's few hundred to few thousand, each folded once: no index beats this.
        for case_id, slug, name, spellings in await session.execute(query):
            if _names_match([slug.replace("-", " "), name, *spellings], words):
                matched.append(case_id)
                if len(matched) > limit:
                    break
        shown = matched[:limit]
        whole = {c.id: c for c in await session.scalars(select(Case).where(Case.id.in_(shown)))}
        found = [whole[i] for i in matched if i in whole]
        counts = await stored.update_counts(session, shown)
    page = found[:limit]
    rows = []
    for case in page:
        count, latest = counts.get(case.id, (0, None))
        rows.append(
            case_json(case) | {"updates": count, "latest": latest.isoformat() if latest else None}
        )
    return CasePage(rows, page[-1].slug if len(matched) > limit else None)


def case_spec_json(case: Case) -> dict[str, Any]:
    """A stored case in the shape of a case file (and of `save_case`'s spec), without updates:
    what the console's edit form starts from."""
    letter = None
    if case.letter_address:
        letter = {"address": case.letter_address}
        if case.letter_guidance:
            letter["guidance"] = case.letter_guidance
    return {
        "slug": case.slug,
        "name": case.name,
        "spellings": list(case.spellings),
        "country": case.country,
        "role": case.role,
        "status": case.status.value,
        "summary": case.summary,
        "letter": letter,
        "actions": list(case.actions),
        "prayer": case.prayer,
        "sources": list(case.sources),
        "published": case.published,
        # Only when there are any: a case in one language reads (and is audited) as before.
        **({"translations": dict(case.translations)} if case.translations else {}),
    }


async def case_detail(store: Store, by: Actor, slug: str) -> dict[str, Any]:
    """A case with every field, its updates (each with its alerts by status) and `spec`, the
    editable fields as `save_case` takes them. NotFoundError if there is none."""
    require(by, Area.CASES)
    if "\x00" in slug or len(slug) > limits.NAME:
        # No case is called that; the store is not asked (PostgreSQL refuses a NUL in text).
        raise NotFoundError(f"no case {slug[:60]!r}")
    async with store.read() as session:
        case = await stored.get_case(session, slug)
        states = await stored_updates.list_updates(session, case=case, limit=UPDATES_SHOWN)
        alerts = {s.update.id: s.alerts for s in states}
        data = case_json(case, with_updates=True)
    for update in data["updates"]:
        update["alerts"] = alerts.get(update["id"], {})
    return data | {"spec": case_spec_json(case)}


def _problems_of(exc: ValidationError, where: str) -> list[Problem]:
    return [
        Problem(where, ".".join(str(p) for p in error["loc"]), friendly_reason(error))
        for error in exc.errors()
    ]


def check_case_spec(spec: Mapping[str, Any] | CaseSpec, *, slug: str | None = None) -> CaseSpec:
    """The case form, checked by the rules of case files: every bad field named. Updates are
    not part of it (they have their own page)."""
    if isinstance(spec, CaseSpec):
        given: dict[str, Any] = spec.model_dump(mode="json", exclude={"updates"})
        if spec.updates:
            raise InputError.single(FORM, "updates", "add updates on the Updates page")
    else:
        given = dict(spec)
        if given.pop("updates", None):
            raise InputError.single(FORM, "updates", "add updates on the Updates page")
    if slug is not None and not given.get("slug"):
        given["slug"] = slug
    try:
        checked = CaseSpec.model_validate(given)
    except ValidationError as exc:
        raise InputError(_problems_of(exc, FORM)) from None
    problems = [
        Problem(FORM, ".".join(str(p) for p in loc), reason)
        for loc, reason in translation_problems(checked)
    ]
    if problems:
        raise InputError(problems)
    return checked


async def save_case(
    store: Store, by: Actor, spec: Mapping[str, Any] | CaseSpec, *, slug: str | None = None
) -> CaseSaved:
    """Create a case (`slug` None) or change every field of case `slug` to what `spec` says
    (the whole case, as `case_detail`'s `spec` gives it; a new slug in it renames the case).
    InputError naming every bad field; ConflictError if the slug is taken; nothing is written
    unless all of it is good. Audited as case.create / case.edit, with what changed."""
    require(by, Area.CASES, write=True)
    checked = check_case_spec(spec, slug=slug)
    values = stored.case_fields(checked)
    async with store.transaction() as session:
        taken = await session.scalar(select(Case).where(Case.slug == checked.slug))
        if slug is None:
            if taken is not None:
                raise ConflictError.single(FORM, "slug", f"there is a case {checked.slug!r}")
            case = Case(slug=checked.slug, **values)
            session.add(case)
            await session.flush()
            after = case_spec_json(case)
            record(session, by, "case.create", case.slug, after=after)
            return CaseSaved(case.slug, True, {}, after)
        found = await session.scalar(select(Case).where(Case.slug == slug))
        if found is None:
            raise NotFoundError(f"no case {slug!r}")
        case = found
        if taken is not None and taken.id != case.id:
            raise ConflictError.single(FORM, "slug", f"there is a case {checked.slug!r}")
        old = case_spec_json(case)
        case.slug = checked.slug
        for name, value in values.items():
            if getattr(case, name) != value:
                setattr(case, name, value)
        await session.flush()
        before, after = changes(old, case_spec_json(case))
        if before or after:
            record(session, by, "case.edit", case.slug, before=before, after=after)
        return CaseSaved(case.slug, False, before, after)


async def import_case_text(
    store: Store, by: Actor, text: str, *, name: str, announce: bool = False
) -> CasesUploaded:
    """A case file uploaded as text: parsed as `cases import` parses files (every problem with
    its line, under `name`), then imported all or nothing and audited as case.import."""
    require(by, Area.CASES, write=True)
    try:
        where = check_text(name, limit=limits.NAME) or "upload"
    except ValueError as exc:
        raise InputError.single("upload", "name", str(exc)) from None
    if len(text) > limits.CASE_FILE:
        raise InputError.single(where, "", too_long(len(text), limits.CASE_FILE))
    specs = parse_case_text(text, where)
    async with store.transaction() as session:
        report = await stored.import_cases(session, specs, announce_history=announce)
        if report.changed:
            record(
                session, by, "case.import", where,
                after={
                    "created": report.cases_created,
                    "changed": report.cases_changed,
                    "updates_added": report.updates_added,
                    "updates_changed": report.updates_changed,
                },
            )  # fmt: skip
    return CasesUploaded(report)
