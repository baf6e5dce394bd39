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

from notifier.channels.base import SharedBody
from notifier.config import Settings
from notifier.render.templates import for_list, make_environment, render
from notifier.render.views import CaseView, CountrySection, UpdateView, count_updates
from notifier.store.models import Channel

_BLANK_RUNS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """At most one blank line in a row, none at either end: templates stay readable."""
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"


#: Where the personal footer goes in a shared body. An HTML comment survives CSS inlining.
PERSONAL_MARK = "<!--notifier:personal-->"


@dataclass(frozen=True)
class RenderedBody:
    """The part of a message every recipient of it shares. For Telegram, `text` is Telegram HTML."""

    channel: Channel
    subject: str
    text: str
    html: str

    @cached_property
    def digest(self) -> str:
        """A content address: equal bodies share one stored row."""
        h = hashlib.sha256()
        for part in (self.channel.value, self.subject, self.text, self.html):
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
        self.inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)

    def _base(self, locale: str) -> dict[str, Any]:
        return {"locale": locale, "public_url": self.public_url}

    def alert(
        self, case: CaseView, update: UpdateView, channel: Channel, locale: str
    ) -> RenderedBody:
        context = self._base(locale) | {"case": case, "update": update}
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
        """A digest's shared body; `template` names a list's own templates (LIST_TEMPLATES)."""
        context = self._base(locale) | {
            "title": title,
            "intro": tuple(intro),
            "sections": tuple(sections),
            "period_label": period_label,
            "update_count": count_updates(sections),
        }
        if channel is Channel.TELEGRAM:
            text = tidy(render(self.env, for_list("telegram/digest.html", template), context))
            return RenderedBody(channel, "", text, "")
        return self._email("digest", context, template)

    def _email(
        self, kind: str, context: dict[str, Any], template: str | None = None
    ) -> RenderedBody:
        def names(file: str) -> list[str]:
            return for_list(f"email/{file}", template)

        subject = " ".join(render(self.env, names(f"{kind}_subject.txt"), context).split())
        text = render(self.env, names(f"{kind}.txt"), context | {"personal": PERSONAL_MARK})
        personal = {"personal": Markup(PERSONAL_MARK)}
        html = render(self.env, names(f"{kind}.html"), context | personal)
        return RenderedBody(Channel.EMAIL, subject, tidy(text), self.inliner.inline(html))

    def confirm(self, *, name: str, what: str, confirm_url: str, valid_days: int) -> FinalMessage:
        """The double opt-in email (one per person: nothing shared to cache)."""
        context = {"name": name, "what": what, "confirm_url": confirm_url, "valid_days": valid_days}
        subject = " ".join(render(self.env, "email/confirm_subject.txt", context).split())
        text = tidy(render(self.env, "email/confirm.txt", context))
        html = self.inliner.inline(render(self.env, "email/confirm.html", context))
        return FinalMessage(subject, text, html)

    def footers(self, personal: Personal) -> tuple[str, str]:
        """The personal footer of an email, as text and as HTML."""
        context = {
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

    def telegram_text(self, body: RenderedBody, *, group: bool) -> str:
        """A Telegram message as it goes out: the shared body, then how to stop it. The same for
        every person (`/stop` in their chat) and for every group (its admins' /unsubscribe): no
        signed link, since Telegram messages get forwarded and a link in one would let anyone
        who reads it change the person's subscription."""
        footer = render(self.env, "telegram/footer.html", {"group": group}).strip()
        return tidy(body.text.replace(PERSONAL_MARK, "") + "\n\n" + footer)

    def personalise(self, body: RenderedBody, personal: Personal | None) -> FinalMessage:
        """The message one recipient gets: the shared body with their footer in place (none
        for `personal=None`: the bare shared body)."""
        if body.channel is Channel.TELEGRAM and personal is not None:
            return FinalMessage(body.subject, self.telegram_text(body, group=False), "")
        if body.channel is Channel.TELEGRAM or personal is None:
            return FinalMessage(
                body.subject,
                body.text.replace(PERSONAL_MARK, ""),
                body.html.replace(PERSONAL_MARK, ""),
            )
        text_footer, html_footer = self.footers(personal)
        return FinalMessage(
            body.subject,
            body.text.replace(PERSONAL_MARK, text_footer),
            body.html.replace(PERSONAL_MARK, html_footer),
        )


def shared_body(body: RenderedBody) -> SharedBody:
    """Split an email body where the personal footer goes."""
    text_before, _, text_after = body.text.partition(PERSONAL_MARK)
    html_before, _, html_after = body.html.partition(PERSONAL_MARK)
    return SharedBody(body.digest, text_before, text_after, html_before, html_after)
