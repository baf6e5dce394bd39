"""What the bot says, as Telegram HTML. Everything that comes from a user or from case text goes
through `escape`; nothing else builds markup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from notifier.countries import country_name
from notifier.digests import list_schedule
from notifier.domain import Cadence, SubscriberStatus
from notifier.render.telegram_html import escape
from notifier.store.chats import Target, target_of_subscription
from notifier.store.models import MailingList, Subscriber, Subscription

WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: (command, description) for Telegram's command menu and /help, private chats.
PRIVATE_COMMANDS: Final = (
    ("follow", "Follow a country or a person"),
    ("unfollow", "Stop following a country or a person"),
    ("following", "What this chat follows, and how often"),
    ("cadence", "Instant alerts, or a daily or weekly summary"),
    ("cases", "The people we follow, by country"),
    ("case", "One person: status, latest news, how to help"),
    ("when", "When summaries come: /when friday 18:30 Asia/Almaty"),
    ("pause", "Send nothing for a while (/pause 14: two weeks)"),
    ("resume", "End a pause"),
    ("stop", "Unsubscribe from everything"),
    ("help", "What I can do"),
)
#: The same for groups (only admins may use the first two).
GROUP_COMMANDS: Final = (
    ("subscribe", "Admins: get a prayer chain's digest in this group"),
    ("unsubscribe", "Admins: stop a prayer chain's digest here"),
    ("help", "What I can do in this group"),
)


def quoted(text: str) -> str:
    return f"“{escape(text)}”"


def target_name(target: Target) -> str:
    """'Kazakhstan', 'Bakhytzhan Kashkumbayev', escaped; never the name of an unpublished case."""
    if target.case is not None and not target.case.published:
        return "a case that is no longer public"
    return escape(target.label)


def target_kind(target: Target) -> str:
    if target.case is not None:
        return f"news about <b>{target_name(target)}</b>"
    if target.country is not None:
        return f"news from <b>{target_name(target)}</b>"
    return "news about <b>every case</b>"


def cadence_phrase(cadence: Cadence, subscriber: Subscriber) -> str:
    """'each update as it comes', 'a daily summary at 07:00 (UTC)', …"""
    zone = escape(subscriber.time_zone)
    if cadence is Cadence.DAILY:
        return f"a daily summary at {subscriber.digest_time} ({zone})"
    if cadence is Cadence.WEEKLY:
        day = WEEKDAYS[subscriber.digest_day % 7]
        return f"a weekly summary on {day}s at {subscriber.digest_time} ({zone})"
    return "each update as it comes"


def list_phrase(mailing_list: MailingList) -> str:
    """'every Monday at 07:00 (Asia/Almaty)' for a list's digest."""
    schedule = list_schedule(mailing_list)
    at = schedule.at.strftime("%H:%M")
    zone = escape(mailing_list.time_zone)
    if schedule.weekday is None:
        return f"every day at {at} ({zone})"
    return f"every {WEEKDAYS[schedule.weekday]} at {at} ({zone})"


def commands_block(commands: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"/{name} – {escape(about)}" for name, about in commands)


WELCOME: Final = (
    "<b>Welcome!</b> I send news about Christians imprisoned or harassed for their faith: "
    "each update as it happens, or a daily or weekly summary, with what you can do and how "
    "to pray.\n\n"
    "Follow a country or a person:\n"
    "<code>/follow Kazakhstan</code> – a country, by name or code\n"
    "<code>/follow</code> and a name – a person, in any spelling\n\n"
    "/cases lists everyone we follow; /help shows every command."
)


def help_text() -> str:
    return (
        "<b>What I can do</b>\n\n"
        + commands_block(PRIVATE_COMMANDS)
        + "\n\nA country works by name or code (<code>/follow KZ</code>), a person by any "
        "spelling of their name. Urgent news always comes at once."
    )


def group_help(bot_username: str) -> str:
    return (
        "<b>Prayer chains in this group</b>\n\n"
        + commands_block(GROUP_COMMANDS)
        + "\n\nSend <code>/subscribe</code> and the prayer chain's name (or just /subscribe to "
        f"choose). To follow people yourself, write to me privately: @{escape(bot_username)}"
    )


def how_to_follow() -> str:
    return (
        "Whom should I follow? Send a country or a person, for example "
        "<code>/follow Kazakhstan</code>, or <code>/follow</code> and a name. "
        "/cases lists everyone we follow."
    )


def followed(
    target: Target, subscription: Subscription, subscriber: Subscriber, *, new: bool
) -> str:
    cadence = subscription.cadence
    how = cadence_phrase(cadence, subscriber)
    if not new:
        text = f"You already get {target_kind(target)}: {how}."
    else:
        text = f"✅ You now get {target_kind(target)}: {how}."
    other = [c.value for c in Cadence if c is not cadence]
    text += (
        f"\n\nChange how often with <code>/cadence {other[0]}</code> or "
        f"<code>/cadence {other[1]}</code>; /following shows everything you follow."
    )
    return text + inactive_note(subscriber)


def inactive_note(subscriber: Subscriber) -> str:
    """Why nothing will arrive although the follow is stored. (An email address that was
    unsubscribed or bounced stops email only: Telegram messages still come.)"""
    if subscriber.status is not SubscriberStatus.PENDING:
        return ""
    return (
        "\n\n⚠️ This chat is linked to a subscription whose email address is not confirmed "
        "yet, so nothing will arrive until it is: use the link in the confirmation email."
    )


def not_found(what: str, text: str, suggestions: bool) -> str:
    found = f"I found no {what} called {quoted(text)}."
    if suggestions:
        return found + " Did you mean one of these?"
    return found + " /cases lists everyone we follow; countries go by name or code (KZ)."


def choose(text: str) -> str:
    return f"{quoted(text)} could mean several things. Which one?"


def following(subscriber: Subscriber | None, follows: Sequence[Subscription]) -> str:
    if subscriber is None or not follows:
        return "You follow nothing yet. " + how_to_follow()
    lines = []
    for sub in follows:
        target = target_of_subscription(sub)
        lines.append(f"• {target_name(target)} – {cadence_phrase(sub.cadence, subscriber)}")
    return (
        "<b>This chat follows</b>\n"
        + "\n".join(lines)
        + "\n\nChange how often with /cadence, stop one with /unfollow, or everything with /stop."
        + inactive_note(subscriber)
    )


def cadence_question(subscriber: Subscriber | None, current: Cadence | None) -> str:
    if subscriber is None:
        return "You follow nothing yet. " + how_to_follow()
    lines = [
        f"• <b>{c.value}</b>: {cadence_phrase(c, subscriber)}" + (" ✓" if c is current else "")
        for c in Cadence
    ]
    return "How often should news come?\n" + "\n".join(lines)


def cadence_set(subscriber: Subscriber, cadence: Cadence, count: int) -> str:
    if count == 0:
        return "You follow nothing yet. " + how_to_follow()
    text = f"✅ Done: you now get {cadence_phrase(cadence, subscriber)}"
    text += f" for all {count} things you follow." if count > 1 else "."
    if cadence is not Cadence.INSTANT:
        text += " Urgent news still comes at once."
    return text


def unfollowed(target: Target) -> str:
    return f"You no longer get {target_kind(target)}. /following shows what is left."


def not_following(target: Target) -> str:
    return f"You do not follow {target_name(target)}."


def nothing_followed_called(text: str) -> str:
    return f"You follow nothing called {quoted(text)}."


def unfollow_question() -> str:
    return "Which one should I stop? Tap to unfollow:"


def stopped(removed: int, *, unlinked: bool) -> str:
    if removed == 0 and not unlinked:
        return "You follow nothing here, so nothing will come to this chat. /follow starts again."
    text = "✅ Unsubscribed: nothing more will come to this chat."
    if unlinked:
        text += (
            " Your email subscription is unchanged; the link in any of our emails manages it, "
            "and connects Telegram again."
        )
    return text + " /follow starts again any time."


def linked(subscriber: Subscriber) -> str:
    who = escape(subscriber.name or subscriber.email or "your subscription")
    return (
        f"✅ This chat is now connected to <b>{who}</b>: what you chose for Telegram on your "
        "preferences page comes here. /following shows it." + inactive_note(subscriber)
    )


BAD_LINK: Final = (
    "This link does not work any more: each link from the preferences page works once, for a "
    "short time. Open the page again and press the Telegram button for a new one. "
    "You can also just /follow a country or a person here."
)
STALE_BUTTON: Final = "This button is out of date. Please send the command again."
SORRY: Final = "Sorry, something went wrong on my side. Please try again in a minute."
PLAIN_TEXT: Final = (
    "I understand commands. To follow someone, send <code>/follow</code> and a country or a "
    "name, e.g. <code>/follow Kazakhstan</code>. /help lists everything."
)


def private_only(bot_username: str) -> str:
    return (
        "Following cases works in a private chat with me: @"
        f"{escape(bot_username)}. In a group, admins can /subscribe it to a prayer chain."
    )


def unknown_command(command: str) -> str:
    return f"I do not know {escape(command)}.\n\n" + commands_block(PRIVATE_COMMANDS)


def unknown_country(text: str, suggestions: Sequence[str]) -> str:
    text = f"I do not know the country {quoted(text)}."
    if suggestions:
        names = " or ".join(f"<code>/cases {escape(country_name(c))}</code>" for c in suggestions)
        return f"{text} Did you mean {names}?"
    return text + " Try its English name or its code, e.g. <code>/cases KZ</code>."


def which_case() -> str:
    return (
        "Which person? Send <code>/case</code> and a name, in any spelling. "
        "/cases lists everyone we follow."
    )


GROUP_ONLY: Final = (
    "That is for groups: add me to a group, and one of its admins can send "
    "<code>/subscribe</code> and the name of a prayer chain there."
)
REFUSED: Final = "Sorry, only this group's admins can choose what it receives."


def list_name(mailing_list: MailingList) -> str:
    return f"<b>{escape(mailing_list.name)}</b>"


def group_subscribed(mailing_list: MailingList, *, new: bool) -> str:
    start = "✅ This group now gets" if new else "This group already gets"
    return (
        f"{start} {list_name(mailing_list)}: a digest {list_phrase(mailing_list)}. "
        "An admin can stop it with /unsubscribe."
    )


def not_on_telegram(mailing_list: MailingList) -> str:
    return (
        f"{list_name(mailing_list)} is not sent to Telegram. Its coordinator can add Telegram "
        "to its channels; then send /subscribe again."
    )


def group_unsubscribed(mailing_list: MailingList) -> str:
    return (
        f"This group no longer gets {list_name(mailing_list)}. "
        "An admin can /subscribe again any time."
    )


WHICH_LIST: Final = "Which prayer chain should this group get?"
NO_LISTS: Final = "No prayer chain is sent to Telegram yet."
WHICH_TO_STOP: Final = "Which prayer chain should stop coming here?"
NO_GROUP_LISTS: Final = "This group gets no prayer chain. An admin can /subscribe one."


def no_such_list(text: str, *, suggestions: bool) -> str:
    found = f"I found no prayer chain called {quoted(text)}."
    return found + (" Did you mean one of these?" if suggestions else "")


def group_does_not_get(text: str) -> str:
    return f"This group does not get {quoted(text)}."


def added_to_group(bot_username: str) -> str:
    return "Thank you for adding me. " + group_help(bot_username)


#: The longest pause /pause accepts, in days (the preference page offers up to 90 too).
MAX_PAUSE_DAYS: Final = 90


def pause_usage() -> str:
    return (
        f"Send <code>/pause</code> and a number of days, from 1 to {MAX_PAUSE_DAYS} "
        "(<code>/pause 14</code>); <code>/pause</code> alone pauses for a week."
    )


def paused(subscriber: Subscriber, until: str) -> str:
    where = "here or by email" if subscriber.email else "here"
    return (
        f"⏸ Paused until <b>{escape(until)}</b>: nothing comes {where} before then. News from "
        "the pause is not sent later; a daily or weekly summary after it covers it. "
        "/resume starts again sooner."
    )


def resumed(*, was_paused: bool) -> str:
    if not was_paused:
        return "You were not paused: news comes as usual."
    return "▶️ Welcome back: news comes again from now on."


def when_now(subscriber: Subscriber | None, *, changed: bool = False) -> str:
    """When this chat's summaries come, and how to change it."""
    if subscriber is None:
        return "You follow nothing yet. " + how_to_follow()
    day = WEEKDAYS[subscriber.digest_day % 7]
    zone = escape(subscriber.time_zone)
    head = "✅ Done: daily" if changed else "Daily"
    return (
        f"{head} summaries come at <b>{subscriber.digest_time}</b>, weekly ones on "
        f"<b>{day}s</b> at {subscriber.digest_time}, in <b>{zone}</b> time."
        + (
            ""
            if changed
            else " To change it, send for example "
            "<code>/when friday 18:30 Asia/Almaty</code> (any of the three)."
        )
    )


def when_unknown(words: Sequence[str]) -> str:
    named = ", ".join(quoted(w) for w in words)
    return (
        f"I do not understand {named}. Send a day, a time and a time zone, any of them, e.g. "
        "<code>/when friday 18:30 Asia/Almaty</code>."
    )
