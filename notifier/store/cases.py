"""Cases and updates in the store: import from case files, look up by any spelling, add updates."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier import limits
from notifier.countries import fold
from notifier.domain import Severity
from notifier.domain.case_specs import CaseSpec, UpdateSpec
from notifier.domain.text_fields import check_link, check_text
from notifier.domain.translations import check_update_translations, stored
from notifier.domain.update_keys import update_key
from notifier.errors import InputError, NotFoundError, Problem
from notifier.store.models import Case, Update, utcnow
from notifier.store.outbox import restart_partial_alerts


@dataclass
class ImportReport:
    """What an import changed, case by case."""

    cases_created: list[str] = field(default_factory=list)
    cases_changed: list[str] = field(default_factory=list)
    cases_unchanged: list[str] = field(default_factory=list)
    updates_added: int = 0
    updates_changed: int = 0
    updates_unchanged: int = 0
    #: Corrections made since the last import (`updates edit`, the API) to fields the file
    #: still gives as it did then: kept. "slug update-key (title, body)".
    corrections_kept: list[str] = field(default_factory=list)
    #: Corrected fields the file itself changed since: the file's newer text replaced them.
    corrections_replaced: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.cases_created or self.cases_changed or self.updates_added or self.updates_changed
        )


def case_fields(spec: CaseSpec) -> dict[str, Any]:
    """A case's columns as a case file (or the console's case form) gives them."""
    return {
        "name": spec.name,
        "spellings": list(spec.spellings),
        "country": spec.country,
        "role": spec.role,
        "status": spec.status,
        "summary": spec.summary,
        "letter_address": spec.letter.address if spec.letter else None,
        "letter_guidance": spec.letter.guidance if spec.letter else None,
        "actions": [a.model_dump(mode="json", exclude_none=True) for a in spec.actions],
        "prayer": spec.prayer,
        "sources": [s.model_dump(mode="json", exclude_none=True) for s in spec.sources],
        "published": spec.published,
        "translations": stored(spec.translations),
    }


#: The fields of an update that a case file gives (and `updates edit` corrects).
UPDATE_FILE_FIELDS = (
    "event_date", "title", "body", "source_name", "source_url", "severity", "translations",
)  # fmt: skip


def fingerprint(value: Any) -> str:
    """A short hash of one field's value: enough to tell later whether a case file changed it."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprints(values: Mapping[str, Any]) -> dict[str, str]:
    return {name: fingerprint(value) for name, value in values.items()}


def _update_fields(spec: UpdateSpec) -> dict[str, Any]:
    return {
        "event_date": spec.date,
        "title": spec.title,
        "body": spec.body,
        "source_name": spec.source.name if spec.source else None,
        "source_url": str(spec.source.url) if spec.source and spec.source.url else None,
        "severity": spec.severity,
        "translations": stored(spec.translations),
    }


def _merge_update(row: Update, values: dict[str, Any]) -> tuple[bool, list[str], list[str]]:
    """Bring `row` to the case file's `values` where the file changed since it was last
    imported. A field the file gives as it did then keeps the row's value, so a correction made
    meanwhile (`updates edit`, the API) is not undone by importing the same file again.
    Returns (changed, corrected fields kept, corrected fields the file's change replaced)."""
    base = row.imported_fields or {}
    given = fingerprints(values)
    changed, kept, replaced = False, [], []
    for name, value in values.items():
        current = getattr(row, name)
        if base.get(name) == given[name]:  # the file did not change it
            if current != value:
                kept.append(name)
            continue
        if current != value:
            if name in base and fingerprint(current) != base[name]:
                replaced.append(name)
            setattr(row, name, value)
            changed = True
    row.imported_fields = given
    return changed, kept, replaced


def _assign(row: Any, values: dict[str, Any]) -> bool:
    """Set the fields that differ; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


async def serialize_update_writes(session: AsyncSession) -> None:
    """Make update ids commit in the order they were given out, so the watcher's cursor never
    skips one still being written. SQLite writes one transaction at a time already; PostgreSQL
    hands out sequence values to concurrent transactions, so writers take a lock first."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(UPDATE_WRITE_LOCK)))


#: Advisory lock id held by whoever writes updates (an arbitrary constant: "notifier").
UPDATE_WRITE_LOCK = 0x6E6F74696669


async def import_cases(
    session: AsyncSession, specs: Sequence[CaseSpec], *, announce_history: bool = False
) -> ImportReport:
    """Create or update each case and its updates. An update already stored (same case and key)
    is updated in place and keeps its id, so nobody is alerted about it twice; only the fields
    the file changed since its last import are taken, so corrections made meanwhile stay. The
    updates of a case new to the store are its history: kept and shown, but not announced to
    subscribers (unless `announce_history`); updates added to a known case are announced."""
    await serialize_update_writes(session)
    report = ImportReport()
    edited: list[int] = []
    slugs = [s.slug for s in specs]
    existing = {
        c.slug: c
        for c in await session.scalars(
            select(Case).where(Case.slug.in_(slugs)).options(selectinload(Case.updates))
        )
    }
    for spec in specs:
        case = existing.get(spec.slug)
        announce = case is not None or announce_history
        if case is None:
            case = Case(slug=spec.slug, updates=[], **case_fields(spec))
            session.add(case)
            report.cases_created.append(spec.slug)
        elif _assign(case, case_fields(spec)):
            report.cases_changed.append(spec.slug)
        else:
            report.cases_unchanged.append(spec.slug)
        stored = {u.key: u for u in case.updates}
        # Oldest first, so ids (the watcher's cursor) follow the order of events.
        for update_spec in sorted(spec.updates, key=lambda u: u.date):
            key = update_spec.stable_key()
            row = stored.get(key)
            values = _update_fields(update_spec)
            if row is None:
                given = fingerprints(values)
                case.updates.append(
                    Update(key=key, announce=announce, imported_fields=given, **values)
                )
                report.updates_added += 1
                continue
            changed, kept, replaced = _merge_update(row, values)
            if kept:
                report.corrections_kept.append(f"{spec.slug} {key} ({', '.join(kept)})")
            if replaced:
                report.corrections_replaced.append(f"{spec.slug} {key} ({', '.join(replaced)})")
            if changed:
                row.edited_at = utcnow()  # alerts not yet sent carry the correction
                edited.append(row.id)
                report.updates_changed += 1
            else:
                report.updates_unchanged += 1
    await session.flush()
    await restart_partial_alerts(session, edited)
    return report


async def list_cases(session: AsyncSession, *, country: str | None = None) -> list[Case]:
    query = select(Case).order_by(Case.country, Case.name)
    if country is not None:
        query = query.where(Case.country == country)
    return list(await session.scalars(query))


async def update_counts(
    session: AsyncSession, case_ids: Sequence[int] | None = None
) -> dict[int, tuple[int, date | None]]:
    """Per case id (of `case_ids`, or every case): how many updates, and the date of the
    latest."""
    query = select(Update.case_id, func.count(), func.max(Update.event_date))
    if case_ids is not None:
        query = query.where(Update.case_id.in_(case_ids))
    rows = await session.execute(query.group_by(Update.case_id))
    return {case_id: (count, latest) for case_id, count, latest in rows}


def _names_of(case: Case) -> list[str]:
    return [case.name, *case.spellings]


async def find_cases(
    session: AsyncSession, text: str, *, published_only: bool = False
) -> list[Case]:
    """Cases that `text` names: by slug, by a full name or spelling, else by every word of it
    appearing in one spelling ('Kashkumbaev' finds Bakhytzhan Kashkumbayev). What the public
    sees (the bot, the web forms) asks for `published_only`; administrators find every case."""
    query = select(Case).order_by(Case.name)
    if published_only:
        query = query.where(Case.published)
    cases = list(await session.scalars(query))
    key = fold(text)
    exact = [c for c in cases if c.slug == text.strip().lower()]
    exact = exact or [c for c in cases if key in {fold(n) for n in _names_of(c)}]
    if exact:
        return exact
    words = set(key.split())
    if not words:
        return []
    return [c for c in cases if any(words <= set(fold(n).split()) for n in _names_of(c))]


async def resolve_case(session: AsyncSession, text: str) -> Case:
    """The one case `text` names; NotFoundError (with suggestions) or, if several, the choices."""
    found = await find_cases(session, text)
    if len(found) == 1:
        return found[0]
    if found:
        choices = ", ".join(f"{c.name} ({c.slug})" for c in found)
        raise NotFoundError(f"{text!r} could be any of: {choices}; give the slug")
    hint = ", ".join(c.slug for c in await near_cases(session, text, published_only=False))
    raise NotFoundError(f"no case {text!r}" + (f"; did you mean {hint}?" if hint else ""))


async def near_cases(
    session: AsyncSession, text: str, *, published_only: bool, limit: int = 3
) -> list[Case]:
    """Cases whose slug, name, a spelling or a surname in one is close to `text`
    ('Kashkumbaiev' → Bakhytzhan Kashkumbayev): the "did you mean" of the CLI (every case), and
    of the bot and the web forms (published cases only)."""
    query = select(Case).order_by(Case.name)
    if published_only:
        query = query.where(Case.published)
    names: dict[str, Case] = {}
    for case in await session.scalars(query):
        names.setdefault(case.slug, case)
        for name in _names_of(case):
            names.setdefault(fold(name), case)
            for word in fold(name).split():
                if len(word) >= 4:  # surnames alone: 'Kashkumbaiev' is near 'kashkumbaev'
                    names.setdefault(word, case)
    near = difflib.get_close_matches(fold(text), list(names), n=limit * 3, cutoff=0.7)
    return list({names[n].id: names[n] for n in near}.values())[:limit]


async def get_case(session: AsyncSession, slug: str) -> Case:
    case = await session.scalar(
        select(Case).where(Case.slug == slug).options(selectinload(Case.updates))
    )
    if case is None:
        resolved = await resolve_case(session, slug)
        case = await session.scalar(
            select(Case).where(Case.id == resolved.id).options(selectinload(Case.updates))
        )
        assert case is not None
    return case


def check_update_fields(
    where: str,
    *,
    title: str | None,
    source_name: str | None,
    source_url: str | None,
    body: str | None = None,
) -> str | None:
    """Every problem with an update's title, text, source and link, named, as one InputError
    (the same rules and limits as case files); the link as it is stored."""
    problems = []
    if title is not None and not title.strip():
        problems.append(Problem(where, "title", "must not be empty"))
    texts = (
        ("title", title, limits.TITLE, True),
        ("body", body, limits.BODY, False),
        ("source", source_name, limits.SOURCE, True),
    )
    for name, value, limit, single_line in texts:
        if value is not None:
            try:
                check_text(value.strip(), limit=limit, single_line=single_line)
            except ValueError as exc:
                problems.append(Problem(where, name, str(exc)))
    link = None
    if source_url is not None:
        try:
            link = check_link(source_url)
        except ValueError as exc:
            problems.append(Problem(where, "url", str(exc)))
    if problems:
        raise InputError(problems)
    return link


async def add_update(
    session: AsyncSession,
    case: Case,
    *,
    day: date,
    title: str,
    body: str,
    source_name: str | None,
    source_url: str | None,
    severity: Severity,
    translations: Mapping[str, Any] | None = None,
) -> tuple[Update, bool]:
    """Store a new update for `case`; (update, False) if one with the same key is there already.
    `translations`: its title and body in other languages ({"de": {"title": …}})."""
    key = update_key(day, title)
    existing = await session.scalar(
        select(Update).where(Update.case_id == case.id, Update.key == key)
    )
    if existing is not None:
        return existing, False
    link = check_update_fields(
        "updates add", title=title, body=body, source_name=source_name, source_url=source_url
    )
    translated = check_update_translations("updates add", translations or {}, body=body.strip())
    await serialize_update_writes(session)
    update = Update(
        case_id=case.id,
        key=key,
        event_date=day,
        title=title.strip(),
        body=body.strip(),
        source_name=source_name,
        source_url=link,
        severity=severity,
        translations=stored(translated),
    )
    session.add(update)
    await session.flush()
    return update, True
