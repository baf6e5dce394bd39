"""The Telegram bot end to end: whole conversations through the fake Bot API (a real HTTP server),
with the real python-telegram-bot Application polling it, on SQLite and PostgreSQL; alerts and
digests then go out through the pipeline's deliverer to the chats the bot signed up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from notifier import locales
from notifier.bot import run_bot
from notifier.bot.texts import BAD_LINK, PLAIN_TEXT, REFUSED, STALE_BUTTON
from notifier.bot.when import When, parse_when
from notifier.config import Settings
from notifier.digests import build_list_digest
from notifier.domain import Cadence, Channel, ChatStatus, Consent, Scope, Severity, SubscriberStatus
from notifier.domain.subscriber_specs import FollowSpec, SubscriberSpec
from notifier.ingest.case_files import load_case_files, parse_case_text, sample_case_files
from notifier.ingest.list_files import load_list_files
from notifier.render.telegram_html import TELEGRAM_LIMIT, check_telegram_html
from notifier.service import pipeline
from notifier.store.cases import add_update, get_case, import_cases
from notifier.store.chats import create_link_code
from notifier.store.engine import Store, open_store
from notifier.store.lists import apply_lists
from notifier.store.models import ListChat, MailingList, OutboxMessage, Subscriber, Subscription
from notifier.store.subscribers import add_follows, get_subscriber, import_subscribers
from tests.fake_telegram import GROUP_USER_ID, FakeBotApi, SentMessage
from tests.helpers import EXAMPLE_LISTS, deliver, with_bot

ANNA = 42
GROUP = -500
ADMIN = 7
HELP_START = "<b>What I can do</b>"
#: /help's first line in every language the bot speaks: the probe `Bot.say` waits for.
HELP_STARTS = tuple(
    locales.translations(language).gettext(HELP_START) for language in locales.SHIPPED
)

EXTRA_CASES = """
slug: jordan-haddad
name: Jordan Haddad
country: US
status: detained
letter:
  address: |
    Jordan Haddad
    County Jail, Cell <7> & Co
updates:
  - date: 2020-01-02
    title: Detained after a house meeting
---
slug: anna-kim
name: Anna Kim
country: KR
status: harassed
---
slug: daniel-kim
name: Daniel Kim
country: KR
status: imprisoned
---
slug: secret-kim
name: Hidden Kim
country: KR
status: missing
published: false
"""


@dataclass
class Bot:
    """The running bot and ways to talk to it."""

    api: FakeBotApi
    settings: Settings
    store: Store

    def _checked(self, messages: list[SentMessage]) -> list[SentMessage]:
        for message in messages:
            assert check_telegram_html(message.text) == [], message.text
            assert message.parse_mode == "HTML"
            assert message.disable_preview
        return messages

    async def say(self, chat: int, text: str, **kw: Any) -> list[SentMessage]:
        """Send `text` as a user and return every reply to it (however many messages): a /help
        sent after it is answered only once it was handled (updates go one at a time)."""
        before = len(self.api.sent)
        self.api.push_message(chat, text, **kw)
        probe = ANNA if chat < 0 else chat
        # The same user asks (in a private chat): their app's language stays what it was.
        same_user = {k: v for k, v in kw.items() if k == "language_code" and chat > 0}
        self.api.push_message(probe, "/help", **same_user)
        for _ in range(250):
            new = self.api.sent[before:]
            if new and new[-1].chat_id == probe and new[-1].text.startswith(HELP_STARTS):
                return self._checked(new[:-1])
            await asyncio.sleep(0.02)
        raise AssertionError(f"no answer to {text!r}: {[m.text[:60] for m in new]}")

    async def help(self, chat: int, **kw: Any) -> str:
        """The answer to /help in a private chat (`say` uses /help as its probe)."""
        before = len(self.api.sent)
        self.api.push_message(chat, "/help", **kw)
        (reply,) = self._checked((await self.api.wait_sent(before + 1))[before : before + 1])
        assert reply.chat_id == chat
        return reply.text

    async def one(self, chat: int, text: str, **kw: Any) -> str:
        """The one message that answers `text`."""
        replies = await self.say(chat, text, **kw)
        assert len(replies) == 1, [r.text for r in replies]
        assert replies[0].chat_id == chat
        return replies[0].text

    async def press(
        self, chat: int, data: str, *, user_id: int | None = None, message_id: int | None = None
    ) -> str | None:
        """Press a button under the bot's last message (or message `message_id`); the toast's
        text, if any."""
        answered = len(self.api.answered_callbacks)
        self.api.push_callback(chat, data, user_id=user_id, message_id=message_id)
        edits = len(self.api.edits)
        for _ in range(250):
            if len(self.api.answered_callbacks) > answered:
                toast = self.api.answered_callbacks[answered].text
                if toast is not None or len(self.api.edits) > edits:
                    return toast  # a press that worked edits its message
            await asyncio.sleep(0.02)
        raise AssertionError(f"button {data!r} was not answered")

    def edited(self) -> str:
        edit = self.api.edits[-1]
        assert check_telegram_html(edit.text) == [], edit.text
        assert edit.disable_preview
        return edit.text

    async def follows(self, chat: int) -> dict[str, Cadence]:
        async with self.store.read() as session:
            rows = await session.execute(
                select(Subscription.target, Subscription.cadence)
                .join(Subscriber)
                .where(
                    Subscriber.telegram_chat_id == chat,
                    Subscription.channel == Channel.TELEGRAM,
                )
            )
            return {target: cadence for target, cadence in rows}

    async def group_rows(self, chat: int) -> list[ListChat]:
        async with self.store.read() as session:
            return list(await session.scalars(select(ListChat).where(ListChat.chat_id == chat)))


def buttons(message: SentMessage) -> list[tuple[str, str]]:
    assert message.reply_markup is not None
    rows = message.reply_markup["inline_keyboard"]
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


@pytest.fixture
async def bot(fake_bot_api: FakeBotApi, settings: Settings) -> AsyncIterator[Bot]:
    settings = with_bot(settings, fake_bot_api)
    async with open_store(settings) as store:
        async with store.transaction() as session:
            specs = load_case_files(sample_case_files()) + parse_case_text(EXTRA_CASES, "test")
            await import_cases(session, specs)
        stop = asyncio.Event()
        task = asyncio.create_task(run_bot(settings, store, stop))
        try:
            for _ in range(250):
                if any(method == "getUpdates" for method, _ in fake_bot_api.calls):
                    break
                await asyncio.sleep(0.02)
            yield Bot(fake_bot_api, settings, store)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
    assert task.result() is None


async def new_update(store: Store, title: str, *, day: date, body: str = "") -> None:
    async with store.transaction() as session:
        case = await get_case(session, "kashkumbaev")
        _, created = await add_update(
            session,
            case,
            day=day,
            title=title,
            body=body or "The court will hear the appeal on Friday.",
            source_name="Forum 18",
            source_url="https://example.org/news?a=1&b=2",
            severity=Severity.NORMAL,
        )
        assert created


# -- private chats ------------------------------------------------------------------------------


async def test_follow_a_country_get_an_alert_change_cadence_then_stop(bot: Bot) -> None:
    welcome = await bot.one(ANNA, "/start")
    assert welcome.startswith("<b>Welcome!</b>")
    assert [c["command"] for c in bot.api.commands()][:3] == ["follow", "unfollow", "following"]
    groups = bot.api.commands(scope={"type": "all_group_chats"})
    assert [c["command"] for c in groups] == ["subscribe", "unsubscribe", "language", "help"]

    reply = await bot.one(ANNA, "/follow kazakhstan")
    assert reply.startswith("✅ You now get news from <b>Kazakhstan</b>: each update as it comes.")
    assert "<code>/cadence daily</code>" in reply
    assert await bot.follows(ANNA) == {"country:KZ": Cadence.INSTANT}
    async with bot.store.read() as session:
        anna = await get_subscriber(session, str(ANNA))
    assert (anna.email, anna.name, anna.locale, anna.status, anna.consent) == (
        None,
        "Anna",
        "en",
        SubscriberStatus.ACTIVE,
        Consent.TELEGRAM,  # she wrote to the bot herself: the consent record says so
    )
    assert anna.confirmed_at is not None
    assert "already" in await bot.one(ANNA, "/follow KZ")

    await new_update(bot.store, "Appeal hearing set for 3 May", day=date(2024, 5, 1))
    before = len(bot.api.sent)
    await deliver(bot.settings)
    (alert,) = bot.api.sent[before:]
    assert alert.chat_id == ANNA
    assert "Appeal hearing set for 3 May" in alert.text
    assert "Kashkumbayev" in alert.text
    assert check_telegram_html(alert.text) == []

    listing = await bot.one(ANNA, "/following")
    assert "• Kazakhstan – each update as it comes" in listing
    reply = await bot.one(ANNA, "/cadence weekly")
    assert reply == (
        "✅ Done: you now get a weekly summary on Mondays at 07:00 (UTC). "
        "Urgent news still comes at once."
    )
    assert await bot.follows(ANNA) == {"country:KZ": Cadence.WEEKLY}
    # A new follow keeps the cadence the chat chose.
    assert "a weekly summary" in await bot.one(ANNA, "/follow Djabbarbergenov")
    question = (await bot.say(ANNA, "/cadence"))[0]
    assert "<b>weekly</b>: a weekly summary on Mondays at 07:00 (UTC) ✓" in question.text
    assert buttons(question) == [
        ("Instant", "k:instant"),
        ("Daily", "k:daily"),
        ("Weekly", "k:weekly"),
    ]
    await bot.press(ANNA, "k:daily")
    assert bot.edited().startswith(
        "✅ Done: you now get a daily summary at 07:00 (UTC) for all 2 things you follow."
    )
    assert set((await bot.follows(ANNA)).values()) == {Cadence.DAILY}

    reply = await bot.one(ANNA, "/stop")
    assert reply.startswith("✅ Unsubscribed: nothing more will come to this chat.")
    assert await bot.follows(ANNA) == {}
    async with bot.store.read() as session:
        anna = await get_subscriber(session, str(ANNA))
    assert anna.status is SubscriberStatus.UNSUBSCRIBED

    await new_update(bot.store, "Verdict upheld", day=date(2024, 5, 3), body="Urgent.")
    before = len(bot.api.sent)
    await deliver(bot.settings)
    assert bot.api.sent[before:] == []
    async with bot.store.read() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.subscriber_id == anna.id)
        )
        assert len(list(rows)) == 1  # the first alert only

    # Following again later starts again.
    assert (await bot.one(ANNA, "/follow kz")).startswith("✅ You now get news from")
    async with bot.store.read() as session:
        assert (await get_subscriber(session, str(ANNA))).status is SubscriberStatus.ACTIVE


async def test_pause_for_a_while_then_resume(bot: Bot) -> None:
    assert "You follow nothing" in await bot.one(ANNA, "/pause")
    await bot.one(ANNA, "/follow kazakhstan")
    for bad in ("/pause 0", "/pause 91", "/pause soon", "/pause ³"):
        assert "a number of days, from 1 to 90" in await bot.one(ANNA, bad)
    reply = await bot.one(ANNA, "/pause 14")
    until = (datetime.now(UTC) + timedelta(days=14)).date()
    assert reply.startswith(f"⏸ Paused until <b>{until:%A} {until.day} {until:%B %Y}</b>")
    assert "nothing comes here before then" in reply
    await new_update(bot.store, "News while away", day=date(2024, 5, 1))
    before = len(bot.api.sent)
    await deliver(bot.settings)
    assert bot.api.sent[before:] == []
    assert await bot.one(ANNA, "/resume") == "▶️ Welcome back: news comes again from now on."
    assert "not paused" in await bot.one(ANNA, "/resume")
    await new_update(bot.store, "News after the pause", day=date(2024, 5, 2))
    await deliver(bot.settings)
    news = [m.text for m in bot.api.sent[before:] if "News" in m.text]
    assert len(news) == 1
    assert "News after the pause" in news[0]  # nothing from the pause, sent late


async def test_when_summaries_come(bot: Bot) -> None:
    await bot.one(ANNA, "/follow kazakhstan")
    now = await bot.one(ANNA, "/when")
    assert now.startswith(
        "Daily summaries come at <b>07:00</b>, weekly ones on <b>Mondays</b> at 07:00, in "
        "<b>UTC</b> time."
    )
    done = await bot.one(ANNA, "/when fri 18:30 asia/almaty")
    assert done == (
        "✅ Done: daily summaries come at <b>18:30</b>, weekly ones on <b>Fridays</b> at 18:30, "
        "in <b>Asia/Almaty</b> time."
    )
    assert "<b>Sundays</b> at 18:30" in await bot.one(ANNA, "/when sunday")  # the rest kept
    refused = await bot.one(ANNA, "/when soon 25:00")
    assert refused.startswith("I do not understand “soon”, “25:00”.")
    async with bot.store.read() as session:
        anna = await get_subscriber(session, str(ANNA))
    assert (anna.digest_day, anna.digest_time, anna.time_zone) == (6, "18:30", "Asia/Almaty")
    weekly = await bot.one(ANNA, "/cadence weekly")
    assert "a weekly summary on Sundays at 18:30 (Asia/Almaty)" in weekly


async def test_ambiguous_text_gives_buttons_and_a_press_follows(bot: Bot) -> None:
    (choice,) = await bot.say(ANNA, "/follow Jordan")
    assert choice.text == "“Jordan” could mean several things. Which one?"
    assert buttons(choice) == [
        ("🌍 Jordan", "f:c:JO"),
        ("👤 Jordan Haddad (United States)", "f:p:jordan-haddad"),
    ]
    assert await bot.press(ANNA, "f:p:jordan-haddad") is None
    assert bot.edited().startswith("✅ You now get news about <b>Jordan Haddad</b>")
    assert bot.api.edits[-1].reply_markup is None

    (people,) = await bot.say(ANNA, "/follow kim")
    # The unpublished "Hidden Kim" is never offered.
    assert buttons(people) == [
        ("👤 Anna Kim (South Korea)", "f:p:anna-kim"),
        ("👤 Daniel Kim (South Korea)", "f:p:daniel-kim"),
    ]
    await bot.press(ANNA, "f:p:daniel-kim")
    assert "<b>Daniel Kim</b>" in bot.edited()
    assert await bot.follows(ANNA) == {
        f"case:{await case_id(bot, 'jordan-haddad')}": Cadence.INSTANT,
        f"case:{await case_id(bot, 'daniel-kim')}": Cadence.INSTANT,
    }

    (people,) = await bot.say(ANNA, "/case kim")
    assert [data for _, data in buttons(people)] == ["v:p:anna-kim", "v:p:daniel-kim"]
    await bot.press(ANNA, "v:p:anna-kim")
    assert bot.edited().startswith("<b>Anna Kim</b>\nSouth Korea · harassed")

    (question,) = await bot.say(ANNA, "/unfollow")
    assert question.text == "Which one should I stop? Tap to unfollow:"
    assert ("👤 Daniel Kim (South Korea)", "u:p:daniel-kim") in buttons(question)
    (unknown,) = await bot.say(ANNA, "/unfollow Qwxzv")
    assert (
        unknown.text
        == "You follow nothing called “Qwxzv”. Which one should I stop? Tap to unfollow:"
    )
    assert len(buttons(unknown)) == 2
    await bot.press(ANNA, "u:p:daniel-kim")
    assert bot.edited().startswith("You no longer get news about <b>Daniel Kim</b>.")
    assert (await bot.one(ANNA, "/unfollow haddad")).startswith(
        "You no longer get news about <b>Jordan Haddad</b>."
    )
    assert await bot.follows(ANNA) == {}


async def case_id(bot: Bot, slug: str) -> int:
    async with bot.store.read() as session:
        return (await get_case(session, slug)).id


async def test_people_by_any_spelling_and_suggestions_for_near_misses(bot: Bot) -> None:
    reply = await bot.one(ANNA, "/follow Kashkumbaev")
    assert reply.startswith("✅ You now get news about <b>Bakhytzhan Kashkumbayev</b>")

    (miss,) = await bot.say(ANNA, "/follow Kazakstan")
    assert (
        miss.text == "I found no country or person called “Kazakstan”. Did you mean one of these?"
    )
    assert buttons(miss)[0] == ("🌍 Kazakhstan", "f:c:KZ")
    await bot.press(ANNA, "f:c:KZ")
    assert "news from <b>Kazakhstan</b>" in bot.edited()

    (miss,) = await bot.say(ANNA, "/follow Djabarbergenov")
    assert ("👤 Makhset Djabbarbergenov (Kazakhstan)", "f:p:makhset-djabbarbergenov") in buttons(
        miss
    )

    nothing = await bot.one(ANNA, "/follow Qwxzv")
    assert nothing.startswith("I found no country or person called “Qwxzv”. /cases lists")
    near = await bot.one(ANNA, "/cases Kazakstan")
    assert near.startswith("I do not know the country “Kazakstan”. Did you mean <code>/cases Kaz")
    # Hidden cases are not near misses either.
    (hidden,) = await bot.say(ANNA, "/follow Hidden Kim")
    assert "Hidden" not in str(buttons(hidden) if hidden.reply_markup else "")
    assert "secret" not in str(hidden.reply_markup)


async def test_case_page_and_case_list(bot: Bot) -> None:
    pages = await bot.say(ANNA, "/case kashkumbaev")
    text = "\n".join(p.text for p in pages)
    assert all(len(p.text) <= TELEGRAM_LIMIT for p in pages)
    assert text.startswith("<b>Pastor Bakhytzhan Kashkumbayev</b>\nKazakhstan · on probation")
    latest = ["13 April 2014", "27 February 2014", "5 February 2014"]
    positions = [text.index(f"<b>{d}</b>") for d in latest]
    assert positions == sorted(positions)
    assert "1 February 2014" not in text  # only the latest three
    assert "<b>What you can do</b>" in text
    assert "<pre>Bakhytzhan Kashkumbaev\nSI-12 (ETs 166/1)\nAlash Tas Zhol street 30/1" in text
    assert "<i>When writing: Don’t mention any organizations" in text
    assert "<code>/follow bakhytzhan-kashkumbayev</code>" in text

    jordan = await bot.one(ANNA, "/case Jordan Haddad")
    assert "<pre>Jordan Haddad\nCounty Jail, Cell &lt;7&gt; &amp; Co</pre>" in jordan
    assert "<b>2 January 2020</b> – Detained after a house meeting" in jordan

    hidden = await bot.one(ANNA, "/case secret-kim")
    assert hidden.startswith("I found no person called “secret-kim”. /cases lists everyone")

    listing = await bot.one(ANNA, "/cases")
    assert "<b>KAZAKHSTAN</b>\n• Pastor Bakhytzhan Kashkumbayev – on probation" in listing
    assert "<code>/case daniel-kim</code>" in listing
    assert "Hidden" not in listing
    assert "secret-kim" not in listing
    korea = await bot.one(ANNA, "/cases kr")
    assert "KAZAKHSTAN" not in korea
    assert "Anna Kim – harassed" in korea


async def test_start_with_a_link_code_links_the_chat_once(bot: Bot) -> None:
    async with bot.store.transaction() as session:
        spec = SubscriberSpec(where="test", email="anna@example.org", name="Anna Petrova")
        await import_subscribers(session, [spec], bot.settings)
        anna = await get_subscriber(session, "anna@example.org")
        email_follow = FollowSpec(Scope.COUNTRY, "KZ", Cadence.WEEKLY, Channel.EMAIL)
        await add_follows(session, anna, [email_follow])
        code = await create_link_code(session, anna, ttl=timedelta(hours=1))
        expired = await create_link_code(session, anna, ttl=timedelta(seconds=-1))
    assert len(code) <= 64
    assert code.replace("-", "").replace("_", "").isalnum()

    await bot.one(ANNA, "/follow Kashkumbaev")  # before linking: a Telegram-only subscriber
    reply = await bot.one(ANNA, f"/start {code}")
    assert reply.startswith("✅ This chat is now connected to <b>Anna Petrova</b>")
    async with bot.store.read() as session:
        anna = await get_subscriber(session, "anna@example.org")
        assert anna.telegram_chat_id == ANNA
        follows = {(s.target, s.channel) for s in anna.subscriptions}
        kashkumbayev = await get_case(session, "kashkumbaev")
        assert follows == {
            ("country:KZ", Channel.EMAIL),
            (f"case:{kashkumbayev.id}", Channel.TELEGRAM),
        }
        others = list(await session.scalars(select(Subscriber).where(Subscriber.email.is_(None))))
        assert [(o.telegram_chat_id, o.status) for o in others] == [
            (None, SubscriberStatus.UNSUBSCRIBED)
        ]

    assert await bot.one(43, f"/start {code}") == BAD_LINK  # used
    assert await bot.one(43, f"/start {expired}") == BAD_LINK
    assert await bot.one(43, "/start no-such-code") == BAD_LINK
    async with bot.store.read() as session:
        assert (await get_subscriber(session, "anna@example.org")).telegram_chat_id == ANNA

    # /stop unlinks the chat but keeps the email subscription.
    reply = await bot.one(ANNA, "/stop")
    assert "Your email subscription is unchanged" in reply
    async with bot.store.read() as session:
        anna = await get_subscriber(session, "anna@example.org")
    assert (anna.telegram_chat_id, anna.status) == (None, SubscriberStatus.ACTIVE)
    assert [s.channel for s in anna.subscriptions] == [Channel.EMAIL]


async def test_garbage_gets_a_helpful_answer(bot: Bot) -> None:
    assert await bot.one(ANNA, "hello, are you there?") == PLAIN_TEXT
    assert (await bot.one(ANNA, "/frobnicate now")).startswith("I do not know /frobnicate.")
    assert (await bot.one(ANNA, "/follow")).startswith("Whom should I follow?")
    assert (await bot.one(ANNA, "/case")).startswith("Which person?")
    assert (await bot.one(ANNA, "/cadence hourly")).startswith("You follow nothing yet.")
    assert (await bot.one(ANNA, "/unfollow kz")).startswith("You follow nothing yet.")
    assert (await bot.one(ANNA, "/stop")).startswith("You follow nothing here")
    assert (await bot.one(ANNA, "/subscribe x")).startswith("That is for groups")
    escaped = await bot.one(ANNA, "/follow <b>Kaz & co</b>")
    assert "“&lt;b&gt;Kaz &amp; co&lt;/b&gt;”" in escaped
    long = await bot.one(ANNA, "/follow " + "x" * 3000)
    assert long.startswith("I found no country or person")
    await bot.one(ANNA, "/follow kz")
    assert (await bot.one(ANNA, "/cadence hourly")).startswith("I know instant, daily and weekly.")
    assert await bot.press(ANNA, "f:p:no-such-case") == STALE_BUTTON
    assert await bot.press(ANNA, "nonsense") == STALE_BUTTON
    assert await bot.press(ANNA, "s:1") == STALE_BUTTON  # a group's button in a private chat
    # Forged ids past any row's are stale buttons, not a database error.
    assert await bot.press(ANNA, "f:i:" + "9" * 30) == STALE_BUTTON
    assert await bot.press(ANNA, "f:i:-1") == STALE_BUTTON
    # A reply that fails is followed by an apology, not silence.
    bot.api.fail_next(ANNA, 500, "Internal Server Error")
    assert (await bot.say(ANNA, "/following"))[-1].text.startswith("Sorry, something went wrong")


# -- groups -------------------------------------------------------------------------------------


async def apply_prayer_chain(bot: Bot) -> MailingList:
    """The repository's example prayer chain, sent to Telegram as well as by email."""
    files = load_list_files([EXAMPLE_LISTS])
    specs = [
        (path, spec.model_copy(update={"channels": [Channel.EMAIL, Channel.TELEGRAM]}))
        for path, spec in files
    ]
    async with bot.store.transaction() as session:
        await apply_lists(session, specs, bot.settings)
        found = await session.scalar(
            select(MailingList)
            .where(MailingList.slug == "kazakhstan-prayer-chain")
            .options(selectinload(MailingList.follows))
        )
        assert found is not None
        return found


async def test_group_admin_subscribes_and_the_digest_arrives_in_order(bot: Bot) -> None:
    await apply_prayer_chain(bot)
    bot.api.set_admins(GROUP, [ADMIN], owner=1)
    group: dict[str, Any] = {"chat_type": "group", "title": "St Andrew's <prayer> group"}

    refused = await bot.one(GROUP, "/subscribe kazakhstan-prayer-chain", **group)
    assert refused == REFUSED
    assert await bot.group_rows(GROUP) == []
    assert await bot.say(GROUP, "hello everyone", **group) == []  # plain messages: no answer
    assert await bot.say(GROUP, "/unknown", **group) == []  # may be another bot's command
    assert "Following cases works in a private chat" in await bot.one(
        GROUP, "/follow kz", user_id=ADMIN, **group
    )

    reply = await bot.one(
        GROUP, "/subscribe@notifier_test_bot kazakhstan-prayer-chain", user_id=ADMIN, **group
    )
    assert reply == (
        "✅ This group now gets <b>Kazakhstan prayer chain</b>: a digest every Monday at 07:00 "
        "(Asia/Almaty). An admin can stop it with /unsubscribe."
    )
    (row,) = await bot.group_rows(GROUP)
    assert (row.status, row.added_by, row.title) == (
        ChatStatus.ACTIVE,
        ADMIN,
        "St Andrew's <prayer> group",
    )
    again = await bot.one(GROUP, "/subscribe Kazakhstan Prayer Chain", user_id=1, **group)
    assert again.startswith("This group already gets")

    # A long week: the digest takes several messages, each valid and within the limit. (Few:
    # the deliverer sends one message to a group every 3.1 s, as Telegram asks.)
    body = "\n\n".join(["The congregation met and prayed for the pastor. " * 6] * 3)
    for n in range(1, 6):
        await new_update(bot.store, f"Week note {n:02d}", day=date(2024, 6, n), body=body)
    before = len(bot.api.sent)
    async with pipeline(bot.settings) as p:
        async with p.store.transaction() as session:
            chain = await session.scalar(
                select(MailingList)
                .where(MailingList.slug == "kazakhstan-prayer-chain")
                .options(selectinload(MailingList.follows))
            )
            assert chain is not None
            now = datetime.now(UTC)
            report = await build_list_digest(session, p.renderer, chain, due=now, now=now)
        assert report.messages >= 1
        await p.deliverer.drain()
    parts = [m for m in bot.api.sent[before:] if m.chat_id == GROUP]
    assert len(parts) >= 2
    for part in parts:
        assert len(part.text) <= TELEGRAM_LIMIT
        assert check_telegram_html(part.text) == []
    text = "\n".join(p.text for p in parts)
    assert text.startswith("<b>Kazakhstan prayer chain</b>")
    positions = [text.index(f"Week note {n:02d}") for n in range(1, 6)]
    assert positions == sorted(positions)

    stopped = await bot.one(GROUP, "/unsubscribe", user_id=ADMIN, **group)
    assert stopped.startswith("This group no longer gets <b>Kazakhstan prayer chain</b>.")
    assert [r.status for r in await bot.group_rows(GROUP)] == [ChatStatus.REMOVED]
    assert (await bot.one(GROUP, "/unsubscribe", user_id=ADMIN, **group)).startswith(
        "This group gets no prayer chain."
    )


def membership(chat: dict[str, Any], old: str, new: str, bot_id: int) -> dict[str, Any]:
    bot_user = {"id": bot_id, "is_bot": True, "first_name": "Bot", "username": "notifier_test_bot"}
    return {
        "my_chat_member": {
            "chat": chat,
            "from": {"id": ADMIN, "is_bot": False, "first_name": "Admin"},
            "date": int(time.time()),
            "old_chat_member": {"status": old, "user": bot_user},
            "new_chat_member": {"status": new, "user": bot_user}
            | ({"until_date": 0} if new == "kicked" else {}),
        }
    }


async def test_bot_removed_from_a_group_or_blocked_by_a_person(bot: Bot) -> None:
    await apply_prayer_chain(bot)
    bot.api.set_admins(GROUP, [ADMIN])
    group = {"chat_type": "group", "title": "Prayer group"}
    # With several lists, /subscribe alone offers buttons; an admin's press subscribes.
    (question,) = await bot.say(GROUP, "/subscribe", user_id=ADMIN, **group)
    assert question.text == "Which prayer chain should this group get?"
    ((label, data),) = buttons(question)
    assert label == "Kazakhstan prayer chain"
    assert await bot.press(GROUP, data, user_id=GROUP_USER_ID) == REFUSED
    assert await bot.press(GROUP, data, user_id=ADMIN) is None
    assert bot.edited().startswith("✅ This group now gets <b>Kazakhstan prayer chain</b>")
    assert [r.status for r in await bot.group_rows(GROUP)] == [ChatStatus.ACTIVE]

    chat = {"id": GROUP, "type": "group", "title": "Prayer group"}
    bot.api.push_update(membership(chat, "member", "kicked", bot.api.bot_id))
    await bot.one(ANNA, "/cases KZ")  # handled in order: the removal is done by now
    assert [r.status for r in await bot.group_rows(GROUP)] == [ChatStatus.REMOVED]

    before = len(bot.api.sent)
    bot.api.push_update(membership(chat, "left", "member", bot.api.bot_id))
    (hello,) = (await bot.api.wait_sent(before + 1))[before:]
    assert hello.chat_id == GROUP
    assert hello.text.startswith("Thank you for adding me.")
    # Added through t.me/<bot>?startgroup=<list>, Telegram sends /start <list> for the admin.
    start = "/start@notifier_test_bot kazakhstan-prayer-chain"
    assert (await bot.one(GROUP, start, user_id=ADMIN, **group)).startswith("✅ This group now")
    assert [r.status for r in await bot.group_rows(GROUP)] == [ChatStatus.ACTIVE]

    # A person who blocks the bot gets nothing more until they write to it again.
    await bot.one(ANNA, "/follow kz")
    private = {"id": ANNA, "type": "private", "first_name": "Anna"}
    bot.api.push_update(membership(private, "member", "kicked", bot.api.bot_id))
    await bot.one(43, "/cases KZ")
    async with bot.store.read() as session:
        assert (await get_subscriber(session, str(ANNA))).telegram_blocked_at is not None
    await bot.one(ANNA, "/start")
    async with bot.store.read() as session:
        assert (await get_subscriber(session, str(ANNA))).telegram_blocked_at is None


async def test_the_bot_gives_up_on_a_refused_token_and_waits_for_an_unreachable_api(
    fake_bot_api: FakeBotApi, settings: Settings, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    refused = settings.model_copy(
        update={
            "telegram_bot_token": SecretStr("999:WRONG-TOKEN"),
            "telegram_api_url": fake_bot_api.base_url,
        }
    )
    await asyncio.wait_for(run_bot(refused, store, asyncio.Event()), 5)
    assert "Telegram refused the bot token" in caplog.text

    unreachable = refused.model_copy(update={"telegram_api_url": "http://127.0.0.1:9/bot"})
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(unreachable, store, stop))
    await asyncio.sleep(0.3)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert "cannot reach the Bot API" in caplog.text


# -- languages ----------------------------------------------------------------------------------

DE, RU, FR = 49, 50, 51


async def chat_locale(bot: Bot, chat: int) -> str | None:
    async with bot.store.read() as session:
        found: str | None = await session.scalar(
            select(Subscriber.locale).where(Subscriber.telegram_chat_id == chat)
        )
        return found


async def test_a_german_reader_gets_german_replies_and_menus(bot: Bot) -> None:
    german = {"language_code": "de"}
    welcome = await bot.one(DE, "/start", **german)
    assert welcome.startswith("<b>Willkommen!</b> Ich sende Nachrichten über Christen")
    assert "<code>/follow Kasachstan</code>" in welcome
    assert await chat_locale(bot, DE) is None  # /start alone stores nothing
    help_text = await bot.help(DE, **german)
    assert help_text.startswith("<b>Was ich kann</b>\n\n/follow – Einem Land oder einer Person")
    assert "/language – Die Sprache, in der ich schreibe" in help_text

    # A country by its German name; the new subscriber keeps the app's language.
    reply = await bot.one(DE, "/follow Kasachstan", **german)
    assert reply.startswith(
        "✅ Sie bekommen jetzt Nachrichten aus <b>Kasachstan</b>: jede Nachricht sofort."
    )
    assert "<code>/cadence täglich</code> oder <code>/cadence wöchentlich</code>" in reply
    assert await chat_locale(bot, DE) == "de"
    assert await bot.follows(DE) == {"country:KZ": Cadence.INSTANT}
    listing = await bot.one(DE, "/following", **german)
    assert listing.startswith("<b>Dieser Chat folgt</b>\n• Kasachstan – jede Nachricht sofort")

    # The reader's words for cadences and weekdays work, and come back in German.
    (question,) = await bot.say(DE, "/cadence", **german)
    assert [label for label, _ in buttons(question)] == ["Sofort", "Täglich", "Wöchentlich"]
    assert "• <b>sofort</b>: jede Nachricht sofort ✓" in question.text
    weekly = await bot.one(DE, "/cadence wöchentlich", **german)
    assert weekly == (
        "✅ Erledigt: Sie bekommen jetzt eine wöchentliche Zusammenfassung jeden Montag um "
        "07:00 (UTC). Dringende Nachrichten kommen weiterhin sofort."
    )
    assert (await bot.one(DE, "/when Freitag 18:30", **german)).startswith(
        "✅ Erledigt: Tägliche Zusammenfassungen kommen um <b>18:30</b>, wöchentliche jeden "
        "<b>Freitag</b> um 18:30"
    )
    assert "jeden <b>Sonntag</b>" in await bot.one(DE, "/when so", **german)
    assert "jeden <b>Dienstag</b>" in await bot.one(DE, "/when tuesday", **german)  # English too
    refused = await bot.one(DE, "/when bald", **german)
    assert refused.startswith("„bald“ verstehe ich nicht.")

    cases = await bot.one(DE, "/cases", **german)
    assert "<b>KASACHSTAN</b>\n• Pastor Bakhytzhan Kashkumbayev – auf Bewährung" in cases
    assert "<b>SÜDKOREA</b>" in cases
    assert cases.endswith(
        "Mit <code>/follow</code> und einem Land oder einer Person bekommen Sie deren Nachrichten."
    )
    pages = await bot.say(DE, "/case kashkumbaev", **german)
    page = "\n".join(p.text for p in pages)
    assert page.startswith("<b>Pastor Bakhytzhan Kashkumbayev</b>\nKasachstan · auf Bewährung")
    assert "<b>Neueste Nachrichten</b>" in page
    assert "<b>13. April 2014</b>" in page
    assert "<b>Was Sie tun können</b>" in page
    assert "<i>Beim Schreiben: Don’t mention" in page  # case text stays as it is stored
    assert "<code>/follow bakhytzhan-kashkumbayev</code> bringt Ihnen Nachrichten" in page
    (people,) = await bot.say(DE, "/follow kim", **german)
    assert buttons(people)[0] == ("👤 Anna Kim (Südkorea)", "f:p:anna-kim")

    # Telegram shows each user the menu in their app's language.
    menu = {c["command"]: c["description"] for c in bot.api.commands(language_code="de")}
    assert menu["follow"] == "Einem Land oder einer Person folgen"
    assert menu["language"] == "Die Sprache, in der ich schreibe"
    groups = bot.api.commands(scope={"type": "all_group_chats"}, language_code="de")
    assert [c["command"] for c in groups] == ["subscribe", "unsubscribe", "language", "help"]
    assert groups[0]["description"].startswith("Admins: die Zusammenfassung einer Gebetskette")
    russian = bot.api.commands(language_code="ru")
    assert russian[0] == {"command": "follow", "description": "Следить за страной или человеком"}
    assert bot.api.commands()[0]["description"] == "Follow a country or a person"


async def test_a_russian_reader_gets_russian_replies_with_plural_forms(bot: Bot) -> None:
    russian = {"language_code": "ru"}
    assert (await bot.one(RU, "/start", **russian)).startswith("<b>Добро пожаловать!</b>")
    reply = await bot.one(RU, "/follow Казахстан", **russian)
    assert reply.startswith(
        "✅ Теперь вы получаете новости по стране <b>Казахстан</b>: каждая новость сразу."
    )
    await bot.one(RU, "/follow kashkumbaev", **russian)
    two = await bot.one(RU, "/cadence ежедневно", **russian)
    assert two == (
        "✅ Готово: теперь новости приходят так: ежедневная сводка в 07:00 (UTC) — по всему, за "
        "чем вы следите (2 подписки). Срочные новости по-прежнему приходят сразу."
    )
    for name in ("Djabbarbergenov", "jordan-haddad", "daniel-kim"):
        await bot.one(RU, f"/follow {name}", **russian)
    (question,) = await bot.say(RU, "/cadence", **russian)
    assert [label for label, _ in buttons(question)] == ["Сразу", "Ежедневно", "Еженедельно"]
    assert await bot.press(RU, "k:weekly") is None
    assert "(5 подписок)" in bot.edited()
    assert "день недели: понедельник" in bot.edited()

    page = "\n".join(p.text for p in await bot.say(RU, "/case kashkumbaev", **russian))
    assert page.startswith("<b>Pastor Bakhytzhan Kashkumbayev</b>\nКазахстан · условный срок")
    assert "<b>13 апреля 2014\u202fг.</b>" in page  # CLDR's narrow no-break space
    assert "<b>Что вы можете сделать</b>" in page
    paused = await bot.one(RU, "/pause 14", **russian)
    until = (datetime.now(UTC) + timedelta(days=14)).date()
    assert paused.startswith(f"⏸ Пауза до <b>{locales.weekday_names('ru')[until.weekday()]}, ")
    assert "\u202fг.</b>: до этого здесь ничего не придёт." in paused
    unknown = await bot.one(RU, "/cases Казахстн", **russian)
    assert unknown.startswith("Я не знаю страны «Казахстн». Может быть, <code>/cases Казахстан")


async def test_language_switches_persist_and_buttons_work_late_or_twice(bot: Bot) -> None:
    french = {"language_code": "fr"}  # a language notifier does not speak: English
    assert (await bot.one(FR, "/start", **french)).startswith("<b>Welcome!</b>")
    (question,) = await bot.say(FR, "/language", **french)
    assert question.text == "Which language should I write in?"
    assert buttons(question) == [("English ✓", "l:en"), ("Deutsch", "l:de"), ("Русский", "l:ru")]

    done = "✅ Erledigt: Ab jetzt schreibe ich Ihnen auf Deutsch."
    assert await bot.press(FR, "l:de", message_id=question.message_id) == done
    assert bot.edited() == done
    assert [label for label, _ in buttons_of(bot.api.edits[-1].reply_markup)][:2] == [
        "English",
        "Deutsch ✓",
    ]
    assert await chat_locale(bot, FR) == "de"  # a chat with no subscriber got one to keep it
    assert await bot.press(FR, "l:de", message_id=question.message_id) == done  # twice
    assert await chat_locale(bot, FR) == "de"
    assert (await bot.help(FR, **french)).startswith("<b>Was ich kann</b>")

    assert await bot.one(FR, "/language ru", **french) == "✅ Готово: теперь я пишу вам по-русски."
    assert await chat_locale(bot, FR) == "ru"
    assert (await bot.one(FR, "/following", **french)).startswith("Вы пока ни за чем не следите.")
    # A button under the first question, pressed late: it still chooses.
    late = await bot.press(FR, "l:en", message_id=question.message_id)
    assert late == "✅ Done: from now on I write to you in English."
    assert await chat_locale(bot, FR) == "en"
    for name, language in [("Deutsch", "de"), ("russian", "ru"), ("de-AT", "de"), ("EN", "en")]:
        await bot.one(FR, f"/language {name}", **french)
        assert await chat_locale(bot, FR) == language

    for bad in ("klingon", "\x00", "de\x00", "x" * 5000, "ру" * 2500):
        refused = await bot.one(FR, f"/language {bad}", **french)
        assert refused.startswith("I cannot write in “"), refused
        assert "<code>/language de</code> – Deutsch" in refused
        assert "\x00" not in refused
        assert len(refused) < 300
    assert await chat_locale(bot, FR) == "en"
    assert await bot.press(FR, "l:xx") == STALE_BUTTON  # no such language: a stale button
    # Someone following from before keeps English, whatever their app says now.
    await bot.one(ANNA, "/follow kz")
    assert (await bot.one(ANNA, "/following", language_code="de")).startswith(
        "<b>This chat follows</b>"
    )


def buttons_of(markup: dict[str, Any] | None) -> list[tuple[str, str]]:
    assert markup is not None
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


async def test_a_group_reads_its_admins_language_and_admins_change_it(bot: Bot) -> None:
    await apply_prayer_chain(bot)
    bot.api.set_admins(GROUP, [ADMIN])
    group: dict[str, Any] = {"chat_type": "group", "title": "Gebetskreis"}
    reply = await bot.one(
        GROUP, "/subscribe kazakhstan-prayer-chain", user_id=ADMIN, language_code="de", **group
    )
    assert reply == (
        "✅ Diese Gruppe bekommt jetzt <b>Kazakhstan prayer chain</b>: eine Zusammenfassung "
        "jeden Montag um 07:00 (Asia/Almaty). Ein Admin kann sie mit /unsubscribe beenden."
    )
    assert [r.locale for r in await bot.group_rows(GROUP)] == ["de"]
    # Whoever writes, the group reads its own language.
    assert (await bot.one(GROUP, "/help", language_code="ru", **group)).startswith(
        "<b>Gebetsketten in dieser Gruppe</b>"
    )

    refused = await bot.one(GROUP, "/language ru", language_code="ru", **group)
    assert refused == "Das können leider nur die Admins dieser Gruppe entscheiden."
    (question,) = await bot.say(GROUP, "/language", user_id=ADMIN, **group)
    assert question.text == "In welcher Sprache soll ich schreiben?"
    assert buttons(question)[1] == ("Deutsch ✓", "l:de")
    toast = await bot.press(GROUP, "l:ru", user_id=GROUP_USER_ID)
    assert toast == "Das können leider nur die Admins dieser Gruppe entscheiden."
    assert [r.locale for r in await bot.group_rows(GROUP)] == ["de"]

    done = "✅ Готово: теперь эта группа получает сводку и мои ответы на русском."
    assert await bot.press(GROUP, "l:ru", user_id=ADMIN) == done
    assert await bot.press(GROUP, "l:ru", user_id=ADMIN) == done  # twice: the same
    assert [r.locale for r in await bot.group_rows(GROUP)] == ["ru"]
    assert (await bot.one(GROUP, "/help", **group)).startswith(
        "<b>Молитвенные цепочки в этой группе</b>"
    )
    # Its digest comes in Russian: the period, the group's footer.
    await new_update(bot.store, "Week note", day=date(2024, 6, 1))
    before = len(bot.api.sent)
    async with pipeline(bot.settings) as p:
        async with p.store.transaction() as session:
            chain = await session.scalar(
                select(MailingList)
                .where(MailingList.slug == "kazakhstan-prayer-chain")
                .options(selectinload(MailingList.follows))
            )
            assert chain is not None
            now = datetime.now(UTC)
            await build_list_digest(session, p.renderer, chain, due=now, now=now)
        await p.deliverer.drain()
    digest = "\n".join(m.text for m in bot.api.sent[before:] if m.chat_id == GROUP)
    assert " дек. 2026" in digest.split("\n")[1]
    assert "Эту сводку для группы выбрал её администратор" in digest
    # The group keeps its language through /unsubscribe and a new /subscribe by anyone.
    await bot.one(GROUP, "/unsubscribe", user_id=ADMIN, **group)
    again = await bot.one(GROUP, "/subscribe kazakhstan-prayer-chain", user_id=ADMIN, **group)
    assert again.startswith("✅ Теперь эта группа получает <b>Kazakhstan prayer chain</b>")
    assert [r.locale for r in await bot.group_rows(GROUP)] == ["ru"]
    english = await bot.one(GROUP, "/language English", user_id=ADMIN, **group)
    assert english == "✅ Done: from now on this group gets its digest and my replies in English."
    assert [r.locale for r in await bot.group_rows(GROUP)] == ["en"]
    unknown = await bot.one(GROUP, "/language " + "\x00" * 10, user_id=ADMIN, **group)
    assert unknown.startswith("I cannot write in “”.")

    # A group that never got a list has nowhere to keep a language: it is told what to do.
    other = -501
    bot.api.set_admins(other, [ADMIN])
    first = await bot.one(other, "/language de", user_id=ADMIN, language_code="de", **group)
    assert first.startswith("Diese Gruppe bekommt noch keine Gebetskette.")
    assert await bot.group_rows(other) == []


@pytest.mark.parametrize(
    ("text", "language", "day"),
    [
        ("fri", "en", 4), ("Freitag", "de", 4), ("fr", "de", 4), ("Mi.", "de", 2),
        ("пятница", "ru", 4), ("пт", "ru", 4), ("ВОСКРЕСЕНЬЕ", "ru", 6), ("friday", "ru", 4),
    ],
)  # fmt: skip
def test_weekdays_in_english_and_the_readers_language(text: str, language: str, day: int) -> None:
    assert parse_when(text, language) == (When(day=day), [])


def test_weekdays_of_another_language_are_not_guessed() -> None:
    assert parse_when("Freitag", "en")[1] == ["Freitag"]
    assert parse_when("so", "en")[1] == ["so"]
