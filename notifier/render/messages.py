"""Render alerts and digests once per distinct body, then add the personal part per recipient."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import css_inline
from markupsafe import Markup

from notifier import locales
from notifier.config import Settings
from notifier.domain import Channel
from notifier.domain.messages import SharedBody
from notifier.domain.views import (
    CaseView,
    CountrySection,
    UpdateView,
    count_updates,
    sections_in_language,
)
from notifier.render.marks import PERSONAL_MARK, WEB_COPY_MARK
from notifier.render.templates import for_list, make_environment, render

_BLANK_RUNS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """At most one blank line in a row, none at either end: templates stay readable."""
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"


#: The most a digest email's HTML part may weigh (UTF-8 bytes, after CSS inlining). Gmail
#: clips a message whose HTML is over about 102 KB: the rest, unsubscribe link included, hides
#: behind "[Message clipped]". 90 KB leaves room for the reader's footer. Past it, the last
#: updates appear as headline + link, and a link to the whole digest's web copy leads.
DIGEST_HTML_BUDGET = 90_000


@dataclass(frozen=True)
class RenderedBody:
    """The part of a message every recipient of it shares. For Telegram, `text` is Telegram HTML."""

    channel: Channel
    subject: str
    text: str
    html: str
    #: The whole digest for its web copy, when `html` was cut down to DIGEST_HTML_BUDGET.
    web_html: str | None = None

    @cached_property
    def digest(self) -> str:
        """A content address: equal bodies share one stored row. The web copy counts: two
        digests whose emails show the same headlines may differ in what they cut."""
        h = hashlib.sha256()
        parts = (self.channel.value, self.subject, self.text, self.html)
        for part in (*parts, *([self.web_html] if self.web_html is not None else [])):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()


@dataclass(frozen=True)
class Personal:
    """What differs per recipient."""

    name: str
    email: str
    reason: str
    unsubscribe_url: str
    preferences_url: str
    #: The digest's web copy ("" for alerts).
    web_url: str = ""
    #: The language of their footer.
    locale: str = "en"


@dataclass(frozen=True)
class FinalMessage:
    subject: str
    text: str
    html: str


class Renderer:
    """Holds the template environment and the CSS inliner; cheap to call, built once."""

    def __init__(self, settings: Settings) -> None:
        self.env = make_environment(settings.templates_dir)
        self.public_url = settings.public_url
        self.network = settings.network_name
        self.digest_html_budget = DIGEST_HTML_BUDGET
        self.inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)

    def _base(self, locale: str) -> dict[str, Any]:
        return {"locale": locale, "public_url": self.public_url, "network": self.network}

    def alert(
        self, case: CaseView, update: UpdateView, channel: Channel, locale: str
    ) -> RenderedBody:
        """An alert's shared body in `locale`: the case's and the update's texts translated
        where they are, the original with a note where not."""
        language = locales.shipped(locale)
        context = self._base(locale) | {
            "case": case.in_language(language),
            "update": update.in_language(language),
        }
        if channel is Channel.TELEGRAM:
            text = tidy(render(self.env, "telegram/alert.html", context))
            return RenderedBody(channel, "", text, "")
        return self._email("alert", context)

    def digest(
        self,
        *,
        title: str,
        intro: Sequence[str],
        sections: Sequence[CountrySection],
        period_label: str,
        channel: Channel,
        locale: str,
        template: str | None = None,
    ) -> RenderedBody:
        """A digest's shared body in `locale` (case texts translated as in `alert`); `template`
        names a list's own templates (LIST_TEMPLATES)."""
        sections = sections_in_language(sections, locales.shipped(locale))
        context = self._base(locale) | {
            "title": title,
            "intro": tuple(intro),
            "sections": sections,
            "period_label": period_label,
            "update_count": count_updates(sections),
            # Updates shown as headline + link to the web copy (none unless over budget).
            "brief": frozenset(),
            "web_copy_url": WEB_COPY_MARK,
        }
        if channel is Channel.TELEGRAM:
            text = tidy(render(self.env, for_list("telegram/digest.html", template), context))
            return RenderedBody(channel, "", text, "")
        full = self._email("digest", context, template)
        if len(full.html.encode()) <= self.digest_html_budget:
            return full
        return self._within_budget(full, context, template, sections)

    def _within_budget(
        self,
        full: RenderedBody,
        context: dict[str, Any],
        template: str | None,
        sections: Sequence[CountrySection],
    ) -> RenderedBody:
        """The digest with as many of its updates in full as fit the budget (in reading
        order), the rest as headlines; the whole one kept for the web copy. Found by halving:
        a few renders of the few digests that are this long."""
        order = [u.id for country in sections for case in country.cases for u in case.updates]

        def html_with(shown: int) -> str:
            brief = frozenset(order[shown:])
            return self._email_html("digest", context | {"brief": brief}, template)

        fits, html = 0, html_with(0)  # everything as headlines: as small as it gets
        too_many = len(order)
        while too_many - fits > 1:
            middle = (fits + too_many) // 2
            candidate = html_with(middle)
            if len(candidate.encode()) <= self.digest_html_budget:
                fits, html = middle, candidate
            else:
                too_many = middle
        if html == full.html:  # a list's own template that shows no headlines: nothing to cut
            return full
        brief = {"brief": frozenset(order[fits:])}
        text = self._email_text("digest", context | brief, template)
        return RenderedBody(Channel.EMAIL, full.subject, text, html, web_html=full.html)

    def _email(
        self, kind: str, context: dict[str, Any], template: str | None = None
    ) -> RenderedBody:
        names = for_list(f"email/{kind}_subject.txt", template)
        subject = " ".join(render(self.env, names, context).split())
        text = self._email_text(kind, context, template)
        html = self._email_html(kind, context, template)
        return RenderedBody(Channel.EMAIL, subject, text, html)

    def _email_text(self, kind: str, context: dict[str, Any], template: str | None) -> str:
        names = for_list(f"email/{kind}.txt", template)
        return tidy(render(self.env, names, context | {"personal": PERSONAL_MARK}))

    def _email_html(self, kind: str, context: dict[str, Any], template: str | None) -> str:
        """The HTML with its CSS inlined: what the size budget measures."""
        names = for_list(f"email/{kind}.html", template)
        html = render(self.env, names, context | {"personal": Markup(PERSONAL_MARK)})
        return self.inliner.inline(html)

    def confirm(
        self, *, name: str, what: str, confirm_url: str, valid_days: int, locale: str = "en"
    ) -> FinalMessage:
        """The double opt-in email (one per person: nothing shared to cache), in `locale`."""
        context = {
            "locale": locale,
            "network": self.network,
            "name": name,
            "what": what,
            "confirm_url": confirm_url,
            "valid_days": valid_days,
        }
        subject = " ".join(render(self.env, "email/confirm_subject.txt", context).split())
        text = tidy(render(self.env, "email/confirm.txt", context))
        html = self.inliner.inline(render(self.env, "email/confirm.html", context))
        return FinalMessage(subject, text, html)

    def footers(self, personal: Personal) -> tuple[str, str]:
        """The personal footer of an email, as text and as HTML."""
        context = {
            "locale": personal.locale,
            "name": personal.name,
            "email": personal.email,
            "reason": personal.reason,
            "unsubscribe_url": personal.unsubscribe_url,
            "preferences_url": personal.preferences_url,
            "web_url": personal.web_url,
        }
        return (
            render(self.env, "email/footer.txt", context).strip(),
            render(self.env, "email/footer.html", context),
        )

    def telegram_text(self, body: RenderedBody, *, group: bool, locale: str = "en") -> str:
        """A Telegram message as it goes out: the shared body, then how to stop it. The same for
        every person (`/stop` in their chat) and for every group (its admins' /unsubscribe): no
        signed link, since Telegram messages get forwarded and a link in one would let anyone
        who reads it change the person's subscription."""
        footer = render(
            self.env, "telegram/footer.html", {"group": group, "locale": locale}
        ).strip()
        return tidy(body.text.replace(PERSONAL_MARK, "") + "\n\n" + footer)

    def personalise(self, body: RenderedBody, personal: Personal | None) -> FinalMessage:
        """The message one recipient gets: the shared body with their footer in place (none
        for `personal=None`: the bare shared body)."""
        if body.channel is Channel.TELEGRAM and personal is not None:
            text = self.telegram_text(body, group=False, locale=personal.locale)
            return FinalMessage(body.subject, text, "")
        web_url = personal.web_url if personal else ""
        text, html = with_web_copy(body.text, web_url), with_web_copy(body.html, web_url)
        if body.channel is Channel.TELEGRAM or personal is None:
            return FinalMessage(
                body.subject, text.replace(PERSONAL_MARK, ""), html.replace(PERSONAL_MARK, "")
            )
        text_footer, html_footer = self.footers(personal)
        return FinalMessage(
            body.subject,
            text.replace(PERSONAL_MARK, text_footer),
            html.replace(PERSONAL_MARK, html_footer),
        )


def with_web_copy(text: str, web_url: str) -> str:
    """`text` with its web copy links pointing at `web_url`."""
    return text.replace(WEB_COPY_MARK, web_url) if WEB_COPY_MARK in text else text


def shared_body(body: RenderedBody, web_url: str = "") -> SharedBody:
    """Split an email body where the personal footer goes; links to the whole digest go to
    `web_url`, its web copy."""
    text = with_web_copy(body.text, web_url)
    html = with_web_copy(body.html, web_url)
    text_before, _, text_after = text.partition(PERSONAL_MARK)
    html_before, _, html_after = html.partition(PERSONAL_MARK)
    return SharedBody(body.digest, text_before, text_after, html_before, html_after)
