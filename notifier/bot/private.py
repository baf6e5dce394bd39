"""Private chats: a person follows countries and people, chooses how often, reads cases, stops.

Each handler is one short transaction; replies are built from `texts` and `case_pages`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery, InlineKeyboardMarkup, Update, User
from telegram.ext import ContextTypes

from notifier import locales
from notifier.bot import texts
from notifier.bot.callbacks import (
    CADENCE,
    FOLLOW,
    LANGUAGE,
    UNFOLLOW,
    VIEW,
    Pressed,
    cadence_data,
    target_data,
    target_of_press,
)
from notifier.bot.case_pages import case_page, cases_page
from notifier.bot.chat import Deps, display_name, edit, keyboard, send
from notifier.bot.language import language_buttons, language_named
from notifier.bot.resolve import (
    Resolution,
    as_country,
    button_label,
    resolve_case_text,
    resolve_target,
)
from notifier.bot.when import parse_when
from notifier.countries import near_countries
from notifier.domain import Cadence
from notifier.numbers import as_int
from notifier.store.chats import (
    Target,
    chat_cadence,
    chat_subscriber,
    find_chat_subscriber,
    follow,
    redeem_link_code,
    set_cadence,
    stop_chat,
    target_of_subscription,
    telegram_follows,
    unfollow,
)
from notifier.store.models import Subscription, utcnow
from notifier.store.preferences import set_digest_schedule, set_pause

Context = ContextTypes.DEFAULT_TYPE
#: Buttons offered at most when a text names many things; more means "be more specific".
MAX_CHOICES = 8


def _argument(context: Context) -> str:
    return " ".join(context.args or [])


def _where(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None  # every message and button press has one
    return chat.id


def _choices(action: str, targets: Sequence[Target]) -> InlineKeyboardMarkup:
    return keyboard([(button_label(t), target_data(action, t)) for t in targets[:MAX_CHOICES]])


def _follow_buttons(follows: Sequence[Subscription]) -> InlineKeyboardMarkup:
    buttons = []
    for sub in follows:
        target = target_of_subscription(sub)
        published = target.case is None or target.case.published
        label = button_label(target) if published else texts.no_longer_public_label()
        buttons.append((label, target_data(UNFOLLOW, target)))
    return keyboard(buttons)


def _cadence_buttons() -> InlineKeyboardMarkup:
    return keyboard(
        [(texts.upper_first(texts.cadence_word(c)), cadence_data(c)) for c in Cadence], per_row=3
    )


def _unresolved(
    resolution: Resolution, action: str, *, people_only: bool = False
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The reply to a text naming several things (buttons) or nothing (near misses)."""
    if resolution.targets:
        return texts.choose(resolution.text), _choices(action, resolution.targets)
    suggestions = resolution.suggestions
    markup = _choices(action, suggestions) if suggestions else None
    reply = texts.not_found(resolution.text, bool(suggestions), people_only=people_only)
    return reply, markup


class Private:
    """Handlers for private chats (and `/cases`, `/case` anywhere)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _follow(
        self, session: AsyncSession, chat_id: int, user: User | None, target: Target
    ) -> str:
        subscriber = await chat_subscriber(
            session,
            chat_id=chat_id,
            name=display_name(user),
            language_code=user.language_code if user else None,
            settings=self.deps.settings,
        )
        # A chat that chose one cadence for everything keeps it for what it follows next.
        cadence = chat_cadence(subscriber) or Cadence.INSTANT
        subscription, new = await follow(session, subscriber, target, cadence=cadence)
        return texts.followed(target, subscription, subscriber, new=new)

    async def start(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        code = (context.args or [""])[0]
        async with self.deps.store.transaction() as session:
            if code:
                subscriber = await redeem_link_code(session, code, chat_id)
                if subscriber is None:
                    reply = locales._(texts.BAD_LINK)
                else:  # in the language the linked subscriber chose
                    with locales.speaking(subscriber.locale):
                        reply = texts.linked(subscriber)
            else:
                await find_chat_subscriber(session, chat_id)  # lifts a block noted earlier
                reply = texts.welcome()
        await send(context.bot, chat_id, reply)

    async def help(self, update: Update, context: Context) -> None:
        await send(context.bot, _where(update), texts.help_text())

    async def follow(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        text = _argument(context)
        markup = None
        if not text:
            reply = texts.how_to_follow()
        else:
            async with self.deps.store.transaction() as session:
                resolution = await resolve_target(session, text)
                if resolution.single is not None:
                    reply = await self._follow(
                        session, chat_id, update.effective_user, resolution.single
                    )
                else:
                    reply, markup = _unresolved(resolution, FOLLOW)
        await send(context.bot, chat_id, reply, markup)

    async def unfollow(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        text = _argument(context)
        markup = None
        async with self.deps.store.transaction() as session:
            subscriber = await find_chat_subscriber(session, chat_id)
            follows = telegram_follows(subscriber) if subscriber else []
            if subscriber is None or not follows:
                reply = texts.following(None, [])
            elif not text:
                reply, markup = texts.unfollow_question(), _follow_buttons(follows)
            else:
                resolution = await resolve_target(session, text)
                keys = {f.target for f in follows}
                matching = [t for t in resolution.targets if t.key in keys]
                if len(matching) == 1:
                    await unfollow(session, subscriber, matching[0])
                    reply = texts.unfollowed(matching[0])
                elif matching:
                    reply, markup = texts.choose(text), _choices(UNFOLLOW, matching)
                else:
                    named = resolution.single
                    if named is not None:
                        reply = texts.not_following(named)
                    else:
                        reply = texts.nothing_followed_called(text)
                    reply += " " + texts.unfollow_question()
                    markup = _follow_buttons(follows)
        await send(context.bot, chat_id, reply, markup)

    async def following(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        async with self.deps.store.transaction() as session:
            subscriber = await find_chat_subscriber(session, chat_id)
            follows = telegram_follows(subscriber) if subscriber else []
            reply = texts.following(subscriber, follows)
        await send(context.bot, chat_id, reply)

    async def cadence(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        word = _argument(context)
        wanted = texts.cadence_of(word)
        markup = None
        async with self.deps.store.transaction() as session:
            subscriber = await find_chat_subscriber(session, chat_id)
            if subscriber is None or not telegram_follows(subscriber):
                reply = texts.following(None, [])
            elif wanted is not None:
                count = await set_cadence(session, subscriber, wanted)
                reply = texts.cadence_set(subscriber, wanted, count)
            else:
                reply = texts.cadence_question(subscriber, chat_cadence(subscriber))
                if word.strip():
                    reply = f"{texts.cadence_unknown()}\n\n{reply}"
                markup = _cadence_buttons()
        await send(context.bot, chat_id, reply, markup)

    async def stop(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        async with self.deps.store.transaction() as session:
            done = await stop_chat(session, chat_id)
        await send(context.bot, chat_id, texts.stopped(done.removed, unlinked=done.unlinked))

    async def when(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        text = _argument(context)
        wanted, unknown = parse_when(text)
        async with self.deps.store.transaction() as session:
            subscriber = await find_chat_subscriber(session, chat_id)
            if unknown:
                reply = texts.when_unknown(unknown)
            elif subscriber is None or not text.strip():
                reply = texts.when_now(subscriber)
            else:
                await set_digest_schedule(
                    session,
                    subscriber.id,
                    time_zone=wanted.zone or subscriber.time_zone,
                    day=subscriber.digest_day if wanted.day is None else wanted.day,
                    at=wanted.at or subscriber.digest_time,
                )
                await session.refresh(subscriber)
                reply = texts.when_now(subscriber, changed=True)
        await send(context.bot, chat_id, reply)

    async def pause(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        argument = _argument(context).strip()
        days = as_int(argument) if argument else 7
        if days is None or not 1 <= days <= texts.MAX_PAUSE_DAYS:
            await send(context.bot, chat_id, texts.pause_usage())
            return
        async with self.deps.store.transaction() as session:
            subscriber = await find_chat_subscriber(session, chat_id)
            if subscriber is None or not telegram_follows(subscriber):
                reply = texts.following(None, [])
            else:
                until = utcnow() + timedelta(days=days)
                await set_pause(session, subscriber.id, until)
                local = until.astimezone(ZoneInfo(subscriber.time_zone)).date()
                reply = texts.paused(subscriber, locales.full_day_label(local))
        await send(context.bot, chat_id, reply)

    async def resume(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        async with self.deps.store.transaction() as session:
            subscriber = await find_chat_subscriber(session, chat_id)
            was_paused = bool(
                subscriber and subscriber.paused_until and subscriber.paused_until > utcnow()
            )
            if subscriber is not None and was_paused:
                await set_pause(session, subscriber.id, None)
        await send(context.bot, chat_id, texts.resumed(was_paused=was_paused))

    async def cases(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        text = _argument(context)
        country = as_country(text) if text else None
        if text and country is None:
            reply = texts.unknown_country(text, near_countries(text))
        else:
            async with self.deps.store.read() as session:
                reply = await cases_page(session, country=country)
        await send(context.bot, chat_id, reply)

    async def case(self, update: Update, context: Context) -> None:
        chat_id = _where(update)
        text = _argument(context)
        markup = None
        if not text:
            reply = texts.which_case()
        else:
            async with self.deps.store.read() as session:
                resolution = await resolve_case_text(session, text)
                if resolution.single is not None and resolution.single.case is not None:
                    reply = await case_page(session, resolution.single.case)
                else:
                    reply, markup = _unresolved(resolution, VIEW, people_only=True)
        await send(context.bot, chat_id, reply, markup)

    async def language(self, update: Update, context: Context) -> None:
        """`/language`: buttons, one per language; `/language de` (or Deutsch, German…)."""
        chat_id = _where(update)
        text = _argument(context)
        if not text.strip():
            markup = language_buttons(locales.current())
            await send(context.bot, chat_id, texts.language_question(), markup)
            return
        language = language_named(text)
        if language is None:
            reply = texts.language_unknown(text)
        else:
            reply = await self._set_language(chat_id, update.effective_user, language)
        await send(context.bot, chat_id, reply)

    async def _set_language(self, chat_id: int, user: User | None, language: str) -> str:
        """Store the chat's language (a chat that had no subscriber gets one) and say so in
        it."""
        async with self.deps.store.transaction() as session:
            subscriber = await chat_subscriber(
                session,
                chat_id=chat_id,
                name=display_name(user),
                language_code=language,
                settings=self.deps.settings,
            )
            subscriber.locale = language
        with locales.speaking(language):
            return texts.language_set()

    async def group_only(self, update: Update, context: Context) -> None:
        await send(context.bot, _where(update), locales._(texts.GROUP_ONLY))

    async def unknown_command(self, update: Update, context: Context) -> None:
        message = update.effective_message
        command = (message.text or "/").split()[0] if message else "/"
        await send(context.bot, _where(update), texts.unknown_command(command))

    async def plain(self, update: Update, context: Context) -> None:
        await send(context.bot, _where(update), locales._(texts.PLAIN_TEXT))

    async def pressed(
        self, query: CallbackQuery, press: Pressed, chat_id: int, context: Context
    ) -> None:
        """A button under one of the bot's messages in a private chat."""
        if press.action == LANGUAGE:  # pressed late or twice: the same choice, stored again
            said = await self._set_language(chat_id, query.from_user, press.value)
            await edit(context.bot, query, said, language_buttons(press.value))
            await query.answer(said)
            return
        async with self.deps.store.transaction() as session:
            if press.action == CADENCE:
                subscriber = await find_chat_subscriber(session, chat_id)
                cadence = Cadence(press.value)
                count = await set_cadence(session, subscriber, cadence) if subscriber else 0
                reply = texts.cadence_set(subscriber, cadence, count) if subscriber else None
            else:
                target = await target_of_press(
                    session, press, published_only=press.action != UNFOLLOW
                )
                reply = None
                if target is not None:
                    reply = await self._pressed(session, query, press, chat_id, target)
        if reply is None:
            await query.answer(locales._(texts.STALE_BUTTON))
            return
        await query.answer()
        await edit(context.bot, query, reply)

    async def _pressed(
        self,
        session: AsyncSession,
        query: CallbackQuery,
        press: Pressed,
        chat_id: int,
        target: Target,
    ) -> str | None:
        if press.action == FOLLOW:
            return await self._follow(session, chat_id, query.from_user, target)
        if press.action == VIEW:
            return await case_page(session, target.case) if target.case else None
        subscriber = await find_chat_subscriber(session, chat_id)
        if subscriber is None or not await unfollow(session, subscriber, target):
            return texts.not_following(target)
        return texts.unfollowed(target)
