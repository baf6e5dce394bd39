"""`/cases` and `/case` as Telegram HTML: published cases only, case text always escaped; the
words around it, country names, statuses and dates in the language spoken now (case text
itself as it is stored)."""

from __future__ import annotations

from itertools import groupby

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.countries import country_label
from notifier.domain.views import CaseView, UpdateView
from notifier.locales import _
from notifier.render.telegram_html import escape, escape_attr
from notifier.store.models import Case, Update
from notifier.store.views import case_view, update_view

#: How many of a case's updates `/case` shows, newest first.
LATEST = 3


async def published(session: AsyncSession, *, country: str | None = None) -> list[Case]:
    query = select(Case).where(Case.published)
    if country is not None:
        query = query.where(Case.country == country)
    return sorted(await session.scalars(query), key=lambda c: (country_label(c.country), c.name))


async def cases_page(session: AsyncSession, *, country: str | None = None) -> str:
    """Every published case (of one country), grouped by country, each with its status."""
    cases = await published(session, country=country)
    if not cases:
        if country:
            return _("There are no published cases in %(country)s yet.") % {
                "country": escape(country_label(country))
            }
        return _("There are no published cases yet.")
    blocks = []
    for code, group in groupby(cases, key=lambda c: c.country):
        lines = [f"<b>{escape(country_label(code).upper())}</b>"]
        for case in group:
            view = case_view(case)
            lines.append(
                f"• {escape(view.title)} – {escape(_(view.status))}\n"
                f"   <code>/case {escape(case.slug)}</code>"
            )
        blocks.append("\n".join(lines))
    return (
        "\n\n".join(blocks)
        + "\n\n"
        + _("<code>/follow</code> a country or a person to get their news.")
    )


def _update_block(update: UpdateView) -> str:
    urgent = " · " + _("URGENT") if update.urgent else ""
    parts = [f"<b>{escape(update.date_label)}{urgent}</b> – {escape(update.title)}"]
    parts += [escape(p) for p in update.paragraphs]
    if update.source_name:
        url = update.source_url or ""
        name = escape(update.source_name)
        if url.startswith(("https://", "http://")):
            name = f'<a href="{escape_attr(url)}">{name}</a>'
        parts.append("<i>" + _("Source:") + f" {name}</i>")
    return "\n\n".join(parts)


def _what_you_can_do(case: CaseView) -> str:
    lines: list[str] = []
    for action in case.actions:
        lines.append(f"• {escape(action.text)}")
        if action.address_lines:
            lines.append(f"<pre>{escape(chr(10).join(action.address_lines))}</pre>")
    if case.letter_address and not case.letter_address_in_actions:
        lines.append("• " + _("Write a letter to:"))
        lines.append(f"<pre>{escape(chr(10).join(case.letter_address))}</pre>")
    if case.letter_guidance:
        lines.append("<i>" + _("When writing:") + f" {escape(case.letter_guidance)}</i>")
    return "<b>" + _("What you can do") + "</b>\n" + "\n".join(lines) if lines else ""


async def case_page(session: AsyncSession, case: Case) -> str:
    """One published case: status, summary, the latest updates, what you can do (with the
    letter address), the prayer, and how to follow."""
    view = case_view(case)
    updates = list(
        await session.scalars(
            select(Update)
            .where(Update.case_id == case.id, Update.withdrawn_at.is_(None))
            .order_by(Update.event_date.desc(), Update.id.desc())
            .limit(LATEST)
        )
    )
    blocks = [
        f"<b>{escape(view.title)}</b>\n"
        f"{escape(country_label(view.country))} · {escape(_(view.status))}",
        *(escape(p) for p in view.summary[:1]),
    ]
    if updates:
        blocks.append("<b>" + _("Latest news") + "</b>")
        blocks += [_update_block(update_view(u)) for u in updates]
    if what := _what_you_can_do(view):
        blocks.append(what)
    if view.prayer:
        prayer = "\n\n".join(escape(p) for p in view.prayer)
        heading = "<b>" + _("Prayer") + "</b>"
        blocks.append(f"{heading}\n<blockquote expandable>{prayer}</blockquote>")
    blocks.append(
        _("<code>/follow %(slug)s</code> brings news about this case.")
        % {"slug": escape(case.slug)}
    )
    return "\n\n".join(blocks)
