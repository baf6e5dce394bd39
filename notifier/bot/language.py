"""Which language the bot speaks in a chat: a private chat's subscriber's `locale`, a group's
`ListChat.locale`; before either is stored, the language of the Telegram user who wrote (their
app's `language_code`), if notifier speaks it. And the words and buttons of `/language`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import cache
from typing import Any, Final

from babel import Locale
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from notifier import locales
from notifier.bot.callbacks import language_data
from notifier.bot.chat import GROUP_TYPES, Deps, keyboard
from notifier.countries import fold
from notifier.store.chats import chat_locale, group_locale, locale_for

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]
#: Where the language of a chat's last update is kept (chat_data), for the error handler.
LOCALE_KEY: Final = "locale"
#: The longest text /language looks at: every language's name is far shorter.
MAX_NAME: Final = 40


@cache
def _names() -> dict[str, str]:
    """Folded names of each shipped language (its code, its own name, its name in every
    shipped language: 'de', 'deutsch', 'german', 'немецкии') -> its code."""
    names: dict[str, str] = {}
    for code in locales.SHIPPED:
        names[code] = code
        for reader in locales.SHIPPED:
            name = Locale.parse(reader).languages.get(code)
            if name:
                names.setdefault(fold(name), code)
    return names


def language_named(text: str) -> str | None:
    """The shipped language `text` names ('de', 'de-AT', 'Deutsch', 'German', 'русский'), or
    None (also for a text with a NUL or another control character in it)."""
    text = text.strip()
    if not text or len(text) > MAX_NAME or not text.isprintable():
        return None
    found = _names().get(fold(text))
    if found is not None:
        return found
    language = locales.shipped(text)  # a tag: 'de-AT', 'ru_RU'
    asked = text.replace("_", "-").split("-")[0].lower()
    return language if language == asked else None


def language_buttons(current: str) -> InlineKeyboardMarkup:
    """Every shipped language in its own name, the one spoken now marked."""
    return keyboard(
        [
            (locales.own_name(code) + (" ✓" if code == current else ""), language_data(code))
            for code in locales.SHIPPED
        ],
        per_row=3,
    )


async def reader_locale(deps: Deps, update: Update) -> str:
    """The language to answer this update in: the chat's stored one, else its sender's."""
    chat, user = update.effective_chat, update.effective_user
    stored = None
    if chat is not None:
        async with deps.store.read() as session:
            if chat.type in GROUP_TYPES:
                stored = await group_locale(session, chat.id)
            else:
                stored = await chat_locale(session, chat.id)
    return stored or locale_for(user.language_code if user else None, deps.settings)


def in_reader_language(deps: Deps, handler: Handler) -> Handler:
    """`handler`, run speaking the language of the chat the update comes from."""

    async def handle(update: Update, context: Context) -> None:
        locale = await reader_locale(deps, update)
        if context.chat_data is not None:
            context.chat_data[LOCALE_KEY] = locale
        with locales.speaking(locale):
            await handler(update, context)

    return handle


def error_locale(update: Update, context: Context) -> str | None:
    """The language to apologise in: the one the failed update was being answered in, else its
    sender's."""
    if context.chat_data is not None and LOCALE_KEY in context.chat_data:
        return str(context.chat_data[LOCALE_KEY])
    user = update.effective_user
    return user.language_code if user else None
