"""What the bot says, as Telegram HTML, in the language spoken now (`locales.speaking`: the
handlers speak the reader's). Everything that comes from a user or from case text goes through
`escape`; nothing else builds markup.

Texts kept as constants are English msgids marked with `N_`: they are translated where they are
sent, with `locales._`. Command names and the words commands take (/cadence weekly) stay as
they are in every language; the bot understands the reader's words for them too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from babel.lists import format_list

from notifier import locales
from notifier.countries import country_label
from notifier.digests import list_schedule
from notifier.domain import Cadence, SubscriberStatus
from notifier.locales import N_, _, ngettext, pgettext
from notifier.render.telegram_html import escape
from notifier.store.chats import Target, target_of_subscription
from notifier.store.models import MailingList, Subscriber, Subscription

#: (command, description) for Telegram's command menu and /help, private chats.
PRIVATE_COMMANDS: Final = (
    ("follow", N_("Follow a country or a person")),
    ("unfollow", N_("Stop following a country or a person")),
    ("following", N_("What this chat follows, and how often")),
    ("cadence", N_("Instant alerts, or a daily or weekly summary")),
    ("cases", N_("The people we follow, by country")),
    ("case", N_("One person: status, latest news, how to help")),
    ("when", N_("When summaries come: /when friday 18:30 Asia/Almaty")),
    ("pause", N_("Send nothing for a while (/pause 14: two weeks)")),
    ("resume", N_("End a pause")),
    ("stop", N_("Unsubscribe from everything")),
    ("language", N_("The language I write in")),
    ("help", N_("What I can do")),
)
#: The same for groups (only admins may use the first three).
GROUP_COMMANDS: Final = (
    ("subscribe", N_("Admins: get a prayer chain's digest in this group")),
    ("unsubscribe", N_("Admins: stop a prayer chain's digest here")),
    ("language", N_("Admins: the language of the digest and of my replies here")),
    ("help", N_("What I can do in this group")),
)
#: The most of a word from a user that a short reply quotes.
QUOTED_MAX: Final = 40


def upper_first(text: str) -> str:
    """'alle Fälle' -> 'Alle Fälle' (str.capitalize would lower the rest)."""
    return text[:1].upper() + text[1:]


def quoted(text: str) -> str:
    """A user's words in the reader's quotation marks: “…”, „…“, «…»."""
    return _("“%(text)s”") % {"text": escape(text)}


def quoted_short(text: str) -> str:
    """Like `quoted`, for a word that should be short: control characters dropped and at most
    QUOTED_MAX characters shown (a reply to 5,000 characters of nonsense stays short)."""
    kept = "".join(c if c.isprintable() else " " for c in text).strip()
    return quoted(kept if len(kept) <= QUOTED_MAX else kept[: QUOTED_MAX - 1] + "…")


def country_list(codes: Sequence[str], *, command: str) -> str:
    """'<code>/cases Kazakhstan</code> or <code>/cases Pakistan</code>', in the reader's words."""
    names = [f"<code>/{command} {escape(country_label(c))}</code>" for c in codes]
    return format_list(names, style="or", locale=locales.current())


def target_name(target: Target) -> str:
    """'Kazakhstan', 'Bakhytzhan Kashkumbayev', escaped; never the name of an unpublished case."""
    if target.case is not None:
        if not target.case.published:
            return _("a case that is no longer public")
        return escape(target.case.name)
    if target.country is not None:
        return escape(country_label(target.country))
    return _("every case")


def target_kind(target: Target) -> str:
    if target.case is not None:
        return _("news about <b>%(name)s</b>") % {"name": target_name(target)}
    if target.country is not None:
        return _("news from <b>%(country)s</b>") % {"country": target_name(target)}
    return _("news about <b>every case</b>")


def cadence_word(cadence: Cadence) -> str:
    """The reader's word for a cadence, as /cadence takes it: 'weekly', 'wöchentlich'."""
    words = {
        Cadence.INSTANT: pgettext("cadence", "instant"),
        Cadence.DAILY: pgettext("cadence", "daily"),
        Cadence.WEEKLY: pgettext("cadence", "weekly"),
    }
    return words[cadence]


def cadence_of(word: str) -> Cadence | None:
    """The cadence a word names, in English or in the reader's language; None if none."""
    wanted = word.strip().casefold()
    for cadence in Cadence:
        if wanted in (cadence.value, cadence_word(cadence).casefold()):
            return cadence
    return None


def weekday(index: int) -> str:
    """A day of the week (0 = Monday) in the reader's language."""
    return locales.weekday_names()[index % 7]


def cadence_phrase(cadence: Cadence, subscriber: Subscriber) -> str:
    """'each update as it comes', 'a daily summary at 07:00 (UTC)', …"""
    values = {"time": subscriber.digest_time, "zone": escape(subscriber.time_zone)}
    if cadence is Cadence.DAILY:
        return _("a daily summary at %(time)s (%(zone)s)") % values
    if cadence is Cadence.WEEKLY:
        # English: 'on %(day)ss' reads 'on Mondays'.
        values["day"] = weekday(subscriber.digest_day)
        return _("a weekly summary on %(day)ss at %(time)s (%(zone)s)") % values
    return _("each update as it comes")


def list_phrase(mailing_list: MailingList) -> str:
    """'every Monday at 07:00 (Asia/Almaty)' for a list's digest."""
    schedule = list_schedule(mailing_list)
    values = {"time": schedule.at.strftime("%H:%M"), "zone": escape(mailing_list.time_zone)}
    if schedule.weekday is None:
        return _("every day at %(time)s (%(zone)s)") % values
    values["day"] = weekday(schedule.weekday)
    return _("every %(day)s at %(time)s (%(zone)s)") % values


def commands_block(commands: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"/{name} – {escape(_(about))}" for name, about in commands)


def welcome() -> str:
    return _(
        "<b>Welcome!</b> I send news about Christians imprisoned or harassed for their faith: "
        "each update as it happens, or a daily or weekly summary, with what you can do and how "
        "to pray.\n\n"
        "Follow a country or a person:\n"
        "<code>/follow Kazakhstan</code> – a country, by name or code\n"
        "<code>/follow</code> and a name – a person, in any spelling\n\n"
        "/cases lists everyone we follow; /help shows every command; /language changes the "
        "language I write in."
    )


def help_text() -> str:
    return (
        _("<b>What I can do</b>")
        + "\n\n"
        + commands_block(PRIVATE_COMMANDS)
        + "\n\n"
        + _(
            "A country works by name or code (<code>/follow KZ</code>), a person by any "
            "spelling of their name. Urgent news always comes at once."
        )
    )


def group_help(bot_username: str) -> str:
    return (
        _("<b>Prayer chains in this group</b>")
        + "\n\n"
        + commands_block(GROUP_COMMANDS)
        + "\n\n"
        + _(
            "Send <code>/subscribe</code> and the prayer chain's name (or just /subscribe to "
            "choose). To follow people yourself, write to me privately: @%(bot)s"
        )
        % {"bot": escape(bot_username)}
    )


def how_to_follow() -> str:
    return _(
        "Whom should I follow? Send a country or a person, for example "
        "<code>/follow Kazakhstan</code>, or <code>/follow</code> and a name. "
        "/cases lists everyone we follow."
    )


def follows_nothing() -> str:
    return _("You follow nothing yet.") + " " + how_to_follow()


def followed(
    target: Target, subscription: Subscription, subscriber: Subscriber, *, new: bool
) -> str:
    cadence = subscription.cadence
    values = {"what": target_kind(target), "how": cadence_phrase(cadence, subscriber)}
    if not new:
        text = _("You already get %(what)s: %(how)s.") % values
    else:
        text = _("✅ You now get %(what)s: %(how)s.") % values
    one, other = (escape(cadence_word(c)) for c in Cadence if c is not cadence)
    text += "\n\n" + _(
        "Change how often with <code>/cadence %(one)s</code> or "
        "<code>/cadence %(other)s</code>; /following shows everything you follow."
    ) % {"one": one, "other": other}
    return text + inactive_note(subscriber)


def inactive_note(subscriber: Subscriber) -> str:
    """Why nothing will arrive although the follow is stored. (An email address that was
    unsubscribed or bounced stops email only: Telegram messages still come.)"""
    if subscriber.status is not SubscriberStatus.PENDING:
        return ""
    return "\n\n" + _(
        "⚠️ This chat is linked to a subscription whose email address is not confirmed "
        "yet, so nothing will arrive until it is: use the link in the confirmation email."
    )


def did_you_mean() -> str:
    return _("Did you mean one of these?")


def not_found(text: str, suggestions: bool, *, people_only: bool = False) -> str:
    """Nothing (no country, no published case) is called `text`."""
    if people_only:
        found = _("I found no person called %(text)s.") % {"text": quoted(text)}
    else:
        found = _("I found no country or person called %(text)s.") % {"text": quoted(text)}
    if suggestions:
        return found + " " + did_you_mean()
    return found + " " + _("/cases lists everyone we follow; countries go by name or code (KZ).")


def choose(text: str) -> str:
    return _("%(text)s could mean several things. Which one?") % {"text": quoted(text)}


def following(subscriber: Subscriber | None, follows: Sequence[Subscription]) -> str:
    if subscriber is None or not follows:
        return follows_nothing()
    lines = []
    for sub in follows:
        target = target_of_subscription(sub)
        lines.append(f"• {target_name(target)} – {cadence_phrase(sub.cadence, subscriber)}")
    return (
        _("<b>This chat follows</b>")
        + "\n"
        + "\n".join(lines)
        + "\n\n"
        + _("Change how often with /cadence, stop one with /unfollow, or everything with /stop.")
        + inactive_note(subscriber)
    )


def cadence_question(subscriber: Subscriber | None, current: Cadence | None) -> str:
    if subscriber is None:
        return follows_nothing()
    lines = [
        f"• <b>{escape(cadence_word(c))}</b>: {cadence_phrase(c, subscriber)}"
        + (" ✓" if c is current else "")
        for c in Cadence
    ]
    return _("How often should news come?") + "\n" + "\n".join(lines)


def cadence_unknown() -> str:
    words = {c.value: escape(cadence_word(c)) for c in Cadence}
    return _("I know %(instant)s, %(daily)s and %(weekly)s.") % words


def cadence_set(subscriber: Subscriber, cadence: Cadence, count: int) -> str:
    if count == 0:
        return follows_nothing()
    how = cadence_phrase(cadence, subscriber)
    if count > 1:
        text = ngettext(
            "✅ Done: you now get %(how)s for the %(num)s thing you follow.",
            "✅ Done: you now get %(how)s for all %(num)s things you follow.",
            count,
        ) % {"how": how, "num": count}
    else:
        text = _("✅ Done: you now get %(how)s.") % {"how": how}
    if cadence is not Cadence.INSTANT:
        text += " " + _("Urgent news still comes at once.")
    return text


def unfollowed(target: Target) -> str:
    return _("You no longer get %(what)s. /following shows what is left.") % {
        "what": target_kind(target)
    }


def not_following(target: Target) -> str:
    return _("You do not follow %(name)s.") % {"name": target_name(target)}


def nothing_followed_called(text: str) -> str:
    return _("You follow nothing called %(text)s.") % {"text": quoted(text)}


def unfollow_question() -> str:
    return _("Which one should I stop? Tap to unfollow:")


def no_longer_public_label() -> str:
    """A button for a followed case that is no longer published."""
    return "👤 " + upper_first(_("a case that is no longer public"))


def every_case_label() -> str:
    return "🌐 " + upper_first(_("every case"))


def stopped(removed: int, *, unlinked: bool) -> str:
    if removed == 0 and not unlinked:
        return _(
            "You follow nothing here, so nothing will come to this chat. /follow starts again."
        )
    text = _("✅ Unsubscribed: nothing more will come to this chat.")
    if unlinked:
        text += " " + _(
            "Your email subscription is unchanged; the link in any of our emails manages it, "
            "and connects Telegram again."
        )
    return text + " " + _("/follow starts again any time.")


def linked(subscriber: Subscriber) -> str:
    who = escape(subscriber.name or subscriber.email or _("your subscription"))
    return _(
        "✅ This chat is now connected to <b>%(who)s</b>: what you chose for Telegram on "
        "your preferences page comes here. /following shows it."
    ) % {"who": who} + inactive_note(subscriber)


BAD_LINK: Final = N_(
    "This link does not work any more: each link from the preferences page works once, for a "
    "short time. Open the page again and press the Telegram button for a new one. "
    "You can also just /follow a country or a person here."
)
STALE_BUTTON: Final = N_("This button is out of date. Please send the command again.")
SORRY: Final = N_("Sorry, something went wrong on my side. Please try again in a minute.")
PLAIN_TEXT: Final = N_(
    "I understand commands. To follow someone, send <code>/follow</code> and a country or a "
    "name, e.g. <code>/follow Kazakhstan</code>. /help lists everything."
)


def private_only(bot_username: str) -> str:
    return _(
        "Following cases works in a private chat with me: @%(bot)s. In a group, admins can "
        "/subscribe it to a prayer chain."
    ) % {"bot": escape(bot_username)}


def unknown_command(command: str) -> str:
    return (
        _("I do not know %(command)s.") % {"command": escape(command)}
        + "\n\n"
        + commands_block(PRIVATE_COMMANDS)
    )


def unknown_country(text: str, suggestions: Sequence[str]) -> str:
    unknown = _("I do not know the country %(text)s.") % {"text": quoted(text)}
    if suggestions:
        names = country_list(suggestions, command="cases")
        return unknown + " " + _("Did you mean %(names)s?") % {"names": names}
    return unknown + " " + _("Try its name or its code, e.g. <code>/cases KZ</code>.")


def which_case() -> str:
    return _(
        "Which person? Send <code>/case</code> and a name, in any spelling. "
        "/cases lists everyone we follow."
    )


GROUP_ONLY: Final = N_(
    "That is for groups: add me to a group, and one of its admins can send "
    "<code>/subscribe</code> and the name of a prayer chain there."
)
REFUSED: Final = N_("Sorry, only this group's admins can choose what it receives.")


def list_name(mailing_list: MailingList) -> str:
    return f"<b>{escape(mailing_list.name)}</b>"


def group_subscribed(mailing_list: MailingList, *, new: bool) -> str:
    values = {"list": list_name(mailing_list), "when": list_phrase(mailing_list)}
    if new:
        return (
            _(
                "✅ This group now gets %(list)s: a digest %(when)s. "
                "An admin can stop it with /unsubscribe."
            )
            % values
        )
    return (
        _(
            "This group already gets %(list)s: a digest %(when)s. "
            "An admin can stop it with /unsubscribe."
        )
        % values
    )


def not_on_telegram(mailing_list: MailingList) -> str:
    return _(
        "%(list)s is not sent to Telegram. Its coordinator can add Telegram to its channels; "
        "then send /subscribe again."
    ) % {"list": list_name(mailing_list)}


def group_unsubscribed(mailing_list: MailingList) -> str:
    return _("This group no longer gets %(list)s. An admin can /subscribe again any time.") % {
        "list": list_name(mailing_list)
    }


WHICH_LIST: Final = N_("Which prayer chain should this group get?")
NO_LISTS: Final = N_("No prayer chain is sent to Telegram yet.")
WHICH_TO_STOP: Final = N_("Which prayer chain should stop coming here?")
NO_GROUP_LISTS: Final = N_("This group gets no prayer chain. An admin can /subscribe one.")


def no_such_list(text: str, *, suggestions: bool) -> str:
    found = _("I found no prayer chain called %(text)s.") % {"text": quoted(text)}
    return found + (" " + did_you_mean() if suggestions else "")


def group_does_not_get(text: str) -> str:
    return _("This group does not get %(text)s.") % {"text": quoted(text)}


def added_to_group(bot_username: str) -> str:
    return _("Thank you for adding me.") + " " + group_help(bot_username)


#: The longest pause /pause accepts, in days (the preference page offers up to 90 too).
MAX_PAUSE_DAYS: Final = 90


def pause_usage() -> str:
    return _(
        "Send <code>/pause</code> and a number of days, from 1 to %(max)s "
        "(<code>/pause 14</code>); <code>/pause</code> alone pauses for a week."
    ) % {"max": MAX_PAUSE_DAYS}


def paused(subscriber: Subscriber, until: str) -> str:
    values = {"until": escape(until)}
    if subscriber.email:
        text = _("⏸ Paused until <b>%(until)s</b>: nothing comes here or by email before then.")
    else:
        text = _("⏸ Paused until <b>%(until)s</b>: nothing comes here before then.")
    return (
        text % values
        + " "
        + _(
            "News from the pause is not sent later; a daily or weekly summary after it "
            "covers it. /resume starts again sooner."
        )
    )


def resumed(*, was_paused: bool) -> str:
    if not was_paused:
        return _("You were not paused: news comes as usual.")
    return _("▶️ Welcome back: news comes again from now on.")


def when_now(subscriber: Subscriber | None, *, changed: bool = False) -> str:
    """When this chat's summaries come, and how to change it."""
    if subscriber is None:
        return follows_nothing()
    values = {
        "time": subscriber.digest_time,
        "day": weekday(subscriber.digest_day),
        "zone": escape(subscriber.time_zone),
    }
    if changed:
        return (
            _(
                "✅ Done: daily summaries come at <b>%(time)s</b>, weekly ones on <b>%(day)ss</b> "
                "at %(time)s, in <b>%(zone)s</b> time."
            )
            % values
        )
    return (
        _(
            "Daily summaries come at <b>%(time)s</b>, weekly ones on <b>%(day)ss</b> at "
            "%(time)s, in <b>%(zone)s</b> time."
        )
        % values
        + " "
        + _(
            "To change it, send for example <code>/when friday 18:30 Asia/Almaty</code> "
            "(any of the three)."
        )
    )


def when_unknown(words: Sequence[str]) -> str:
    named = ", ".join(quoted_short(w) for w in words[:5])
    return _(
        "I do not understand %(words)s. Send a day, a time and a time zone, any of them, e.g. "
        "<code>/when friday 18:30 Asia/Almaty</code>."
    ) % {"words": named}


# -- languages -------------------------------------------------------------------------------


def language_question() -> str:
    return _("Which language should I write in?")


def language_set() -> str:
    """Said in the language just chosen."""
    return _("✅ Done: from now on I write to you in English.")


def group_language_set() -> str:
    """Said in the language just chosen for a group."""
    return _("✅ Done: from now on this group gets its digest and my replies in English.")


def language_unknown(text: str) -> str:
    choices = "\n".join(
        f"<code>/language {code}</code> – {escape(locales.own_name(code))}"
        for code in locales.SHIPPED
    )
    return (
        _("I cannot write in %(text)s. Choose one of these:") % {"text": quoted_short(text)}
        + "\n"
        + choices
    )


GROUP_LANGUAGE_NO_LISTS: Final = N_(
    "This group gets no prayer chain yet. An admin can /subscribe one, then choose its "
    "language with /language."
)
