"""Groups: an admin subscribes the group to a prayer chain's digest or stops it; the bot being
removed stops every list there; a group that became a supergroup keeps its lists.

Only the group's admins (creator or administrator, asked of Telegram each time, so a demoted
admin cannot) may choose what it receives. Plain messages in groups are never answered."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery, Chat, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from notifier import locales
from notifier.bot import texts
from notifier.bot.callbacks import LANGUAGE, SUBSCRIBE, UNSUBSCRIBE, Pressed, list_data
from notifier.bot.chat import GROUP_TYPES, Deps, edit, keyboard, send
from notifier.bot.language import language_buttons, language_named
from notifier.store.chats import (
    find_lists,
    group_lists,
    group_locale,
    locale_for,
    move_group,
    remove_group,
    set_chat_blocked,
    set_group_locale,
    subscribe_group,
    suggest_lists,
    telegram_enabled,
    unsubscribe_group,
)
from notifier.store.models import MailingList

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE
ADMINS = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})
GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})


def _lists_keyboard(action: str, lists: Sequence[MailingList]) -> InlineKeyboardMarkup:
    return keyboard([(m.name[:64], list_data(action, m.id)) for m in lists[:8]])


async def is_admin(
    context: Context, chat: Chat, user: User | None, message: Message | None
) -> bool:
    """Whether whoever sent this may manage the group: its creator or an administrator (an
    anonymous admin writes as the group itself)."""
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("bot: cannot check admins of chat %s: %s", chat.id, exc)
        return False
    return member.status in ADMINS


class Groups:
    """Handlers for groups and supergroups, and for the bot's own membership in any chat."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _subscribe(
        self, session: AsyncSession, chat: Chat, user: User | None, mailing_list: MailingList
    ) -> str:
        if not telegram_enabled(mailing_list):
            return texts.not_on_telegram(mailing_list)
        # A group keeps the language it has; a new one reads the subscribing admin's.
        locale = await group_locale(session, chat.id) or locale_for(
            user.language_code if user else None, self.deps.settings
        )
        new = await subscribe_group(
            session,
            chat_id=chat.id,
            mailing_list=mailing_list,
            title=chat.title or "",
            added_by=user.id if user else None,
            locale=locale,
        )
        with locales.speaking(locale):
            return texts.group_subscribed(mailing_list, new=new)

    async def start(self, update: Update, context: Context) -> None:
        """`/start <list>`: what Telegram sends when an admin adds the bot through a link
        t.me/<bot>?startgroup=<list slug> (a coordinator can share one per prayer chain)."""
        if context.args:
            await self.subscribe(update, context)
        else:
            await self.help(update, context)

    async def help(self, update: Update, context: Context) -> None:
        assert update.effective_chat is not None
        await send(context.bot, update.effective_chat.id, texts.group_help(context.bot.username))

    async def private_only(self, update: Update, context: Context) -> None:
        assert update.effective_chat is not None
        await send(context.bot, update.effective_chat.id, texts.private_only(context.bot.username))

    async def unknown_command(self, update: Update, context: Context) -> None:
        """Only commands addressed to this bot by name: a bare one may be another bot's."""
        message = update.effective_message
        command = (message.text or "").split()[0] if message and message.text else ""
        if command.lower().endswith(f"@{context.bot.username.lower()}"):
            await self.help(update, context)

    async def _admin(self, update: Update, context: Context) -> tuple[Chat, User | None] | None:
        """The group and the admin who wrote; None (and a refusal sent) for anyone else."""
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        assert chat is not None
        if not await is_admin(context, chat, user, message):
            await send(context.bot, chat.id, locales._(texts.REFUSED))
            return None
        return chat, user

    async def subscribe(self, update: Update, context: Context) -> None:
        if (admin := await self._admin(update, context)) is None:
            return
        chat, user = admin
        text = " ".join(context.args or [])
        markup = None
        async with self.deps.store.transaction() as session:
            if not text:
                every = await session.scalars(select(MailingList).order_by(MailingList.name))
                offered = [m for m in every if telegram_enabled(m)]
                reply = locales._(texts.WHICH_LIST if offered else texts.NO_LISTS)
                markup = _lists_keyboard(SUBSCRIBE, offered) if offered else None
            elif len(found := await find_lists(session, text)) == 1:
                reply = await self._subscribe(session, chat, user, found[0])
            elif found:
                reply, markup = texts.choose(text), _lists_keyboard(SUBSCRIBE, found)
            else:
                near = await suggest_lists(session, text)
                reply = texts.no_such_list(text, suggestions=bool(near))
                markup = _lists_keyboard(SUBSCRIBE, near) if near else None
        await send(context.bot, chat.id, reply, markup)

    async def unsubscribe(self, update: Update, context: Context) -> None:
        if (admin := await self._admin(update, context)) is None:
            return
        chat, _ = admin
        text = " ".join(context.args or [])
        markup = None
        async with self.deps.store.transaction() as session:
            current = await group_lists(session, chat.id)
            ids = {m.id for m in current}
            chosen = (
                [m for m in await find_lists(session, text) if m.id in ids] if text else current
            )
            if len(chosen) == 1:
                await unsubscribe_group(session, chat_id=chat.id, mailing_list=chosen[0])
                reply = texts.group_unsubscribed(chosen[0])
            elif chosen:
                reply = locales._(texts.WHICH_TO_STOP)
                markup = _lists_keyboard(UNSUBSCRIBE, chosen)
            elif not current:
                reply = locales._(texts.NO_GROUP_LISTS)
            else:
                reply = texts.group_does_not_get(text) + " " + locales._(texts.WHICH_TO_STOP)
                markup = _lists_keyboard(UNSUBSCRIBE, current)
        await send(context.bot, chat.id, reply, markup)

    async def pressed(
        self, query: CallbackQuery, press: Pressed, chat: Chat, context: Context
    ) -> None:
        """A button under a /subscribe, /unsubscribe or /language question in a group."""
        if not await is_admin(context, chat, query.from_user, None):
            await query.answer(locales._(texts.REFUSED), show_alert=True)
            return
        if press.action == LANGUAGE:  # pressed late or twice: the same choice, stored again
            said, stored = await self._set_language(chat.id, press.value)
            await edit(context.bot, query, said, language_buttons(press.value) if stored else None)
            await query.answer(said)
            return
        async with self.deps.store.transaction() as session:
            mailing_list = await session.get(MailingList, int(press.value))
            if mailing_list is None:
                reply = None
            elif press.action == SUBSCRIBE:
                reply = await self._subscribe(session, chat, query.from_user, mailing_list)
            else:
                await unsubscribe_group(session, chat_id=chat.id, mailing_list=mailing_list)
                reply = texts.group_unsubscribed(mailing_list)
        if reply is None:
            await query.answer(locales._(texts.STALE_BUTTON))
            return
        await query.answer()
        await edit(context.bot, query, reply)

    async def language(self, update: Update, context: Context) -> None:
        """`/language` in a group, admins only: the language of its digests and of the bot's
        replies there (buttons; or `/language de`)."""
        if (admin := await self._admin(update, context)) is None:
            return
        chat, _ = admin
        text = " ".join(context.args or [])
        markup = None
        if text.strip():
            language = language_named(text)
            if language is None:
                reply = texts.language_unknown(text)
            else:
                reply, _stored = await self._set_language(chat.id, language)
        else:
            async with self.deps.store.read() as session:
                subscribed = await group_locale(session, chat.id) is not None
            if subscribed:
                reply = texts.language_question()
                markup = language_buttons(locales.current())
            else:
                reply = locales._(texts.GROUP_LANGUAGE_NO_LISTS)
        await send(context.bot, chat.id, reply, markup)

    async def _set_language(self, chat_id: int, language: str) -> tuple[str, bool]:
        """Store the group's language and say so in it; (what to say, whether it was stored:
        not for a group that never got a list, which has nowhere to keep it)."""
        async with self.deps.store.transaction() as session:
            stored = await set_group_locale(session, chat_id, language) > 0
        if not stored:
            return locales._(texts.GROUP_LANGUAGE_NO_LISTS), False
        with locales.speaking(language):
            return texts.group_language_set(), True

    async def membership(self, update: Update, context: Context) -> None:
        """The bot's own status changed: a user blocked or unblocked it, or a group removed or
        added it."""
        change = update.my_chat_member
        if change is None:
            return
        chat = change.chat
        gone = change.new_chat_member.status in GONE
        was_gone = change.old_chat_member.status in GONE
        if chat.type == ChatType.PRIVATE:
            async with self.deps.store.transaction() as session:
                await set_chat_blocked(session, chat.id, blocked=gone)
        elif chat.type in GROUP_TYPES:
            if gone:
                async with self.deps.store.transaction() as session:
                    removed = await remove_group(session, chat.id)
                log.info("bot: removed from chat %s; %d list(s) stopped there", chat.id, removed)
            elif was_gone:
                await send(context.bot, chat.id, texts.added_to_group(context.bot.username))

    async def migrated(self, update: Update, context: Context) -> None:
        """A group became a supergroup (Telegram says so in both chats; the second is a no-op)."""
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id is not None:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id is not None:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        async with self.deps.store.transaction() as session:
            await move_group(session, old, new)
