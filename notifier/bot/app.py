"""The Telegram bot: a python-telegram-bot Application polling the Bot API, its handlers wired to
the store. `notifier run` starts it beside the pipeline when a bot token is set.

Only one process may poll a bot token (Telegram answers a second getUpdates with 409 Conflict),
so `notifier worker` never starts it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final, TypeAlias

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeDefault,
    Update,
)
from telegram.constants import ChatType
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    MessageHandler,
    filters,
)

from notifier import locales
from notifier.bot import texts
from notifier.bot.callbacks import LANGUAGE, SUBSCRIBE, UNSUBSCRIBE, parse
from notifier.bot.chat import GROUP_TYPES, NO_PREVIEW, Deps, send
from notifier.bot.groups import Groups
from notifier.bot.language import error_locale, in_reader_language
from notifier.bot.private import Private
from notifier.channels.telegram import DEFAULT_API_URL, PacedLimiter, Pacer
from notifier.config import Settings
from notifier.errors import ConfigError
from notifier.store.engine import Store

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
BotApplication: TypeAlias = Application[
    ExtBot[int], Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], None
]

# ExtBot[int]: the bot has a rate limiter whose per-request argument (max retries) is an int.

#: Updates the bot asks for: messages (commands), button presses, and its own membership.
ALLOWED_UPDATES: Final = ("message", "callback_query", "my_chat_member")
#: How long one getUpdates long poll waits for something to happen (s).
POLL_TIMEOUT: Final = 30
#: Waits between attempts to reach the Bot API at start: 1 s, doubling up to this (s).
MAX_START_DELAY: Final = 60.0

PRIVATE = filters.ChatType.PRIVATE
GROUPS = filters.ChatType.GROUPS
NEW_MESSAGES = filters.UpdateType.MESSAGE
#: Buttons pressed in a group: (un)subscribing a list, its language. Every other button, and
#: the language one too, belongs in a private chat; the first two never do.
GROUP_PRESSES: Final = frozenset({SUBSCRIBE, UNSUBSCRIBE, LANGUAGE})
GROUP_ONLY_PRESSES: Final = frozenset({SUBSCRIBE, UNSUBSCRIBE})


def file_url_for(api_url: str) -> str:
    """Telegram serves files beside the API: https://api.telegram.org/bot → …/file/bot."""
    root = api_url.rstrip("/")
    if root.endswith("/bot"):
        return root.removesuffix("/bot") + "/file/bot"
    return root + "/file"


def build_application(
    settings: Settings, store: Store, *, pacer: Pacer | None = None
) -> BotApplication:
    """The bot, ready to initialize: token and API URL from the settings, handlers registered,
    replies in HTML without link previews. No job queue: the service schedules everything.
    With `pacer` (delivery's, in the same process), replies share its overall limit."""
    if settings.telegram_bot_token is None:
        raise ConfigError("the Telegram bot needs telegram_bot_token (NOTIFIER_TELEGRAM_BOT_TOKEN)")
    api_url = settings.telegram_api_url or DEFAULT_API_URL
    application = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(api_url)
        .base_file_url(file_url_for(api_url))
        .defaults(Defaults(parse_mode="HTML", link_preview_options=NO_PREVIEW))
        .rate_limiter(
            AIORateLimiter(max_retries=2) if pacer is None else PacedLimiter(pacer, max_retries=2)
        )
        .job_queue(None)
        .build()
    )
    register(application, Deps(store, settings))
    return application


def register(application: BotApplication, deps: Deps) -> None:
    """Every handler, each speaking the language of the chat it answers."""
    private, groups = Private(deps), Groups(deps)
    in_private = PRIVATE & NEW_MESSAGES
    in_groups = GROUPS & NEW_MESSAGES
    commands: list[tuple[str, Any, filters.BaseFilter]] = [
        ("start", private.start, in_private),
        ("help", private.help, in_private),
        ("follow", private.follow, in_private),
        ("unfollow", private.unfollow, in_private),
        ("following", private.following, in_private),
        ("cadence", private.cadence, in_private),
        ("when", private.when, in_private),
        ("pause", private.pause, in_private),
        ("resume", private.resume, in_private),
        ("stop", private.stop, in_private),
        ("language", private.language, in_private),
        ("cases", private.cases, (PRIVATE | GROUPS) & NEW_MESSAGES),
        ("case", private.case, (PRIVATE | GROUPS) & NEW_MESSAGES),
        ("subscribe", private.group_only, in_private),
        ("unsubscribe", private.group_only, in_private),
        ("start", groups.start, in_groups),
        ("help", groups.help, in_groups),
        ("subscribe", groups.subscribe, in_groups),
        ("unsubscribe", groups.unsubscribe, in_groups),
        ("language", groups.language, in_groups),
        ("follow", groups.private_only, in_groups),
        ("unfollow", groups.private_only, in_groups),
        ("following", groups.private_only, in_groups),
        ("cadence", groups.private_only, in_groups),
        ("when", groups.private_only, in_groups),
        ("pause", groups.private_only, in_groups),
        ("resume", groups.private_only, in_groups),
        ("stop", groups.private_only, in_groups),
    ]
    for name, callback, where in commands:
        application.add_handler(
            CommandHandler(name, in_reader_language(deps, callback), filters=where)
        )
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, groups.migrated))
    application.add_handler(
        MessageHandler(
            in_private & filters.COMMAND, in_reader_language(deps, private.unknown_command)
        )
    )
    application.add_handler(
        MessageHandler(
            in_private & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
            in_reader_language(deps, private.plain),
        )
    )
    application.add_handler(
        MessageHandler(
            in_groups & filters.COMMAND, in_reader_language(deps, groups.unknown_command)
        )
    )

    async def pressed(update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        press = parse(query.data)
        chat = query.message.chat if query.message is not None else None
        if press is None or chat is None:
            await query.answer(locales._(texts.STALE_BUTTON))
        elif press.action in GROUP_PRESSES and chat.type in GROUP_TYPES:
            await groups.pressed(query, press, chat, context)
        elif press.action not in GROUP_ONLY_PRESSES and chat.type == ChatType.PRIVATE:
            await private.pressed(query, press, chat.id, context)
        else:
            await query.answer(locales._(texts.STALE_BUTTON))

    application.add_handler(CallbackQueryHandler(in_reader_language(deps, pressed)))
    application.add_handler(
        ChatMemberHandler(
            in_reader_language(deps, groups.membership), ChatMemberHandler.MY_CHAT_MEMBER
        )
    )
    application.add_error_handler(on_error)


async def on_error(update: object, context: Context) -> None:
    """Log what went wrong and tell the person, briefly, in their language: never a
    traceback, never silence."""
    log.error("bot: handling an update failed", exc_info=context.error)
    if not isinstance(update, Update):
        return
    with contextlib.suppress(TelegramError), locales.speaking(error_locale(update, context)):
        if update.callback_query is not None:
            await update.callback_query.answer(locales._(texts.SORRY))
        elif update.effective_message is not None and update.effective_chat is not None:
            await send(context.bot, update.effective_chat.id, locales._(texts.SORRY))


def menu(commands: tuple[tuple[str, str], ...]) -> list[BotCommand]:
    """A command menu in the language spoken now."""
    return [BotCommand(name, locales._(about)) for name, about in commands]


async def set_commands(application: BotApplication, default_locale: str) -> None:
    """The command menus Telegram shows, private chats and groups: one in each language
    notifier speaks, for users whose app is set to it, and one in `default_locale` for
    everyone else."""
    bot = application.bot
    default = locales.shipped(default_locale)
    try:
        for language in ("", *(code for code in locales.SHIPPED if code != default)):
            with locales.speaking(language or default):
                await bot.set_my_commands(
                    menu(texts.PRIVATE_COMMANDS),
                    scope=BotCommandScopeDefault(),
                    language_code=language or None,
                )
                await bot.set_my_commands(
                    menu(texts.GROUP_COMMANDS),
                    scope=BotCommandScopeAllGroupChats(),
                    language_code=language or None,
                )
    except TelegramError as exc:  # the menu is a convenience; the bot works without it
        log.warning("bot: could not set the command menu: %s", exc)


async def _initialize(application: BotApplication, stop: asyncio.Event) -> bool:
    """Reach the Bot API (getMe), retrying with backoff while it cannot be reached; False if
    told to stop first, or if the token is refused (retrying would not help)."""
    delay = 1.0
    while not stop.is_set():
        try:
            await application.initialize()
            return True
        except InvalidToken:  # its message quotes the token: not for the log
            log.error("bot: Telegram refused the bot token; the bot does not run")
            break
        except NetworkError as exc:
            log.warning("bot: cannot reach the Bot API (%s); trying again in %.0f s", exc, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, MAX_START_DELAY)
    await application.bot.shutdown()  # connections opened by the failed attempts
    return False


async def run_bot(
    settings: Settings, store: Store, stop: asyncio.Event, *, pacer: Pacer | None = None
) -> None:
    """Run the bot until `stop` is set: initialize, set the command menu, poll (updates that
    arrived while it was down are handled, not dropped), then stop and shut down cleanly."""
    application = build_application(settings, store, pacer=pacer)
    if not await _initialize(application, stop):
        return
    try:
        await set_commands(application, settings.default_locale)
        updater = application.updater
        assert updater is not None
        await updater.start_polling(
            poll_interval=0,
            timeout=POLL_TIMEOUT,
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=False,
        )
        await application.start()
        log.info("bot: @%s is polling for updates", application.bot.username)
        try:
            await stop.wait()
        finally:
            if updater.running:
                await updater.stop()
            if application.running:
                await application.stop()
    finally:
        await application.shutdown()
