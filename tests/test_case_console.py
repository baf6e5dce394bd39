"""The console's Cases page, below the page: search by any spelling, filter and page; create and
edit every field by the rules of case files, every bad field named and nothing half-written;
upload a case file with the import's per-line errors; editors write, coordinators only read;
each write in the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from notifier import limits
from notifier.app import case_detail, import_case_text, import_cases, save_case, search_cases
from notifier.domain import Role
from notifier.domain.actors import Actor
from notifier.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.store.audit import entries
from notifier.store.engine import Store
from notifier.store.models import Case
from tests.helpers import CHAIN, PASTOR

EDITOR = Actor.console_user("ed@example.org", Role.EDITOR, frozenset())
COORDINATOR = Actor.console_user("co@example.org", Role.COORDINATOR, frozenset({CHAIN}))

NEW_CASE: dict[str, Any] = {
    "slug": "ana-lopez",
    "name": "Ana López",
    "spellings": ["Ana Lopes", "Анна Лопес"],
    "country": "Cuba",
    "role": "church member",
    "status": "detained",
    "summary": "Arrested after a house meeting.\n\nHeld without charge.",
    "letter": {"address": "Ana López\nVilla Marista\nHavana", "guidance": "Write briefly."},
    "actions": [{"kind": "pray", "text": "Pray for Ana."}],
    "prayer": "Lord, be near Ana.",
    "sources": [{"name": "CSW", "url": "https://www.csw.org.uk/"}],
    "published": False,
}


@pytest.fixture
async def cases(store: Store) -> Store:
    await import_cases(store, load_case_files(sample_case_files()), by=Actor.cli("test"))
    return store


def problems(exc: pytest.ExceptionInfo[InputError]) -> dict[str, str]:
    return {p.field: p.reason for p in exc.value.problems}


async def case_count(store: Store) -> int:
    async with store.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


async def test_search_by_any_spelling_country_and_status(cases: Store) -> None:
    for text in ("Kashkumbáev", "KASHKUMB", "bakhytzhan kashkumbaev", "Bakhystzhan"):
        page = await search_cases(cases, COORDINATOR, text=text)
        assert [c["slug"] for c in page.cases] == [PASTOR], text
    assert (await search_cases(cases, EDITOR, text="nobody by that name")).cases == []

    kz = await search_cases(cases, EDITOR, country="Kazakhstan")
    assert {c["country"] for c in kz.cases} == {"KZ"}
    assert PASTOR in [c["slug"] for c in kz.cases]
    probation = await search_cases(cases, EDITOR, status="probation")
    assert [c["slug"] for c in probation.cases] == [PASTOR]
    assert probation.cases[0]["updates"] > 0
    assert (await search_cases(cases, EDITOR, country="KZ", status="detained")).cases == [
        c for c in kz.cases if c["status"] == "detained"
    ]

    everything = await search_cases(cases, EDITOR)
    paged, after = [], None
    while True:
        page = await search_cases(cases, EDITOR, limit=1, after=after)
        paged += [c["slug"] for c in page.cases]
        if page.after is None:
            break
        after = page.after
    assert paged == [c["slug"] for c in everything.cases]
    assert len(paged) == 2


async def test_bad_search_filters_are_named(cases: Store) -> None:
    with pytest.raises(InputError) as bad:
        await search_cases(
            cases,
            EDITOR,
            text="a\x00b",
            country="Atlantis",
            status="lost",
            limit=0,
            after="x" * 500,
        )
    assert set(problems(bad)) == {"text", "country", "status", "limit", "after"}
    assert "control character" in problems(bad)["text"]
    with pytest.raises(InputError) as long:
        await search_cases(cases, EDITOR, text="x" * (limits.NAME + 1), limit=10_000)
    assert set(problems(long)) == {"text", "limit"}


async def test_create_and_edit_every_field_audited(cases: Store) -> None:
    created = await save_case(cases, EDITOR, NEW_CASE)
    assert created.created
    shown = await case_detail(cases, COORDINATOR, "ana-lopez")
    spec = shown["spec"]
    assert spec["country"] == "CU"
    assert spec == NEW_CASE | {"country": "CU"}
    assert shown["updates"] == []

    edited = dict(spec)
    edited |= {
        "name": "Ana Lopez Perez",
        "spellings": ["Ana Lopes"],
        "status": "sentenced",
        "summary": "Sentenced to three years.",
        "letter": {"address": "Ana Lopez\nPrison 1\nHavana"},
        "actions": [{"kind": "write", "text": "Write to her."}],
        "prayer": "Lord, keep Ana.",
        "sources": [{"name": "CSW"}],
        "published": True,
        "role": "",
    }
    saved = await save_case(cases, EDITOR, edited, slug="ana-lopez")
    assert not saved.created
    assert set(saved.after) == {
        "name", "spellings", "status", "summary", "letter", "actions", "prayer", "sources",
        "published", "role",
    }  # fmt: skip
    assert saved.before["status"] == "detained"
    assert saved.after["status"] == "sentenced"
    assert (await case_detail(cases, EDITOR, "ana-lopez"))["spec"] == edited | {"country": "CU"}

    again = await save_case(cases, EDITOR, edited, slug="ana-lopez")
    assert again.before == again.after == {}

    renamed = await save_case(cases, EDITOR, edited | {"slug": "ana-lopez-perez"}, slug="ana-lopez")
    assert renamed.after == {"slug": "ana-lopez-perez"}
    assert (await case_detail(cases, EDITOR, "ana-lopez-perez"))["spec"][
        "slug"
    ] == "ana-lopez-perez"
    assert [c["slug"] for c in (await search_cases(cases, EDITOR, text="lopes")).cases] == [
        "ana-lopez-perez"
    ]
    with pytest.raises(NotFoundError):
        await case_detail(cases, EDITOR, "nobody-at-all")

    async with cases.read() as session:
        log = [(e.actor, e.action, e.target, e.summary) for e in await entries(session)]
    assert [(a, act, t) for a, act, t, _ in log] == [
        ("user:ed@example.org", "case.edit", "ana-lopez-perez"),
        ("user:ed@example.org", "case.edit", "ana-lopez"),
        ("user:ed@example.org", "case.create", "ana-lopez"),
    ]  # the edit that changed nothing wrote no entry
    assert log[1][3]["before"]["status"] == "detained"
    assert log[1][3]["after"]["published"] is True
    assert "summary" not in log[0][3]["after"]


async def test_every_bad_field_named_and_nothing_written(cases: Store) -> None:
    bad = NEW_CASE | {
        "name": "Ana\x00López",
        "summary": "x" * (limits.SUMMARY + 1),
        "sources": [{"name": "CSW", "url": "javascript:alert(1)"}],
        "status": "lost",
        "country": "Atlantis",
        "letter": {"guidance": "no address"},
        "spellings": ["Ana"] * (limits.SPELLINGS + 1),
        "published": "perhaps",
    }
    with pytest.raises(InputError) as refused:
        await save_case(cases, EDITOR, bad)
    named = problems(refused)
    assert set(named) == {
        "name", "summary", "sources.0.url", "status", "country", "letter.address", "spellings",
        "published",
    }  # fmt: skip
    assert "control character" in named["name"]
    assert "http" in named["sources.0.url"]
    assert all(p.where == "case form" for p in refused.value.problems)
    assert await case_count(cases) == 2

    before = (await case_detail(cases, EDITOR, PASTOR))["spec"]
    with pytest.raises(InputError) as half:
        await save_case(cases, EDITOR, before | {"name": "Changed", "prayer": "\x00"}, slug=PASTOR)
    assert set(problems(half)) == {"prayer"}
    assert (await case_detail(cases, EDITOR, PASTOR))["spec"] == before

    with pytest.raises(ConflictError) as taken:
        await save_case(cases, EDITOR, before)
    assert problems(taken) == {"slug": f"there is a case {PASTOR!r}"}
    with pytest.raises(InputError) as updates:
        await save_case(cases, EDITOR, NEW_CASE | {"updates": [{"date": "2024-01-01"}]})
    assert set(problems(updates)) == {"updates"}
    async with cases.read() as session:
        assert await entries(session) == []


async def test_coordinators_read_but_do_not_write(cases: Store) -> None:
    assert (await case_detail(cases, COORDINATOR, PASTOR))["slug"] == PASTOR
    with pytest.raises(ForbiddenError):
        await save_case(cases, COORDINATOR, NEW_CASE)
    with pytest.raises(ForbiddenError):
        await import_case_text(cases, COORDINATOR, "slug: x\n", name="x.yaml")
    assert await case_count(cases) == 2


UPLOAD = """\
slug: ana-lopez
name: Ana López
country: CU
status: detained
updates:
  - date: 2024-03-01
    title: Arrested
"""

BAD_UPLOAD = """\
slug: Ana Lopez
name: Ana López
country: Atlantis
status: detained
sources:
  - name: CSW
    url: ftp://example.org/
"""


async def test_upload_a_case_file_with_the_imports_line_errors(cases: Store) -> None:
    with pytest.raises(InputError) as refused:
        await import_case_text(cases, EDITOR, BAD_UPLOAD, name="ana.yaml")
    assert [(p.where, p.field) for p in refused.value.problems] == [
        ("ana.yaml:1", "slug"),
        ("ana.yaml:3", "country"),
        ("ana.yaml:7", "sources.0.url"),
    ]
    with pytest.raises(InputError) as nul:
        await import_case_text(cases, EDITOR, UPLOAD.replace("Ana López", "Ana\x00"), name="a.yaml")
    assert nul.value.problems[0].where.startswith("a.yaml")
    with pytest.raises(InputError) as huge:
        await import_case_text(cases, EDITOR, "#" * (limits.CASE_FILE + 1), name="big.yaml")
    assert "characters" in huge.value.problems[0].reason
    assert await case_count(cases) == 2

    uploaded = await import_case_text(cases, EDITOR, UPLOAD, name="ana.yaml")
    assert uploaded.report.cases_created == ["ana-lopez"]
    assert uploaded.report.updates_added == 1
    again = await import_case_text(cases, EDITOR, UPLOAD, name="ana.yaml")
    assert again.report.cases_unchanged == ["ana-lopez"]
    async with cases.read() as session:
        log = await entries(session)
    assert [(e.action, e.target) for e in log] == [("case.import", "ana.yaml")]
    assert log[0].summary["after"]["created"] == ["ana-lopez"]
