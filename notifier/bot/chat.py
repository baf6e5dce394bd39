"""Talking in a chat: what every handler holds (store and settings, passed in), and sending or
editing replies as Telegram HTML, split under 4096 characters, link previews off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    User,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest

from notifier.config import Settings
from notifier.render.telegram_html import split_telegram_html
from notifier.store.engine import Store

NO_PREVIEW: Final = LinkPreviewOptions(is_disabled=True)
GROUP_TYPES: Final = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})


@dataclass(frozen=True)
class Deps:
    """What the bot's handlers need, given once when the application is built."""

    store: Store
    settings: Settings


def keyboard(buttons: Sequence[tuple[str, str]], *, per_row: int = 1) -> InlineKeyboardMarkup:
    """Buttons from (label, callback data) pairs, `per_row` to a row."""
    row: list[InlineKeyboardButton] = []
    rows: list[list[InlineKeyboardButton]] = []
    for label, data in buttons:
        row.append(InlineKeyboardButton(label, callback_data=data))
        if len(row) == per_row:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(rows)


async def send(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Send Telegram HTML, in as many messages as it takes; buttons go under the last."""
    chunks = split_telegram_html(text)
    for index, chunk in enumerate(chunks):
        await bot.send_message(
            chat_id,
            chunk,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=markup if index == len(chunks) - 1 else None,
        )


async def edit(
    bot: Bot, query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the message whose button was pressed (the rest in new messages if long)."""
    chunks = split_telegram_html(text)
    message = query.message
    if message is None or not chunks:  # too old to edit: answer in a new message
        if query.from_user is not None:
            await send(bot, query.from_user.id, text, markup)
        return
    last = len(chunks) == 1
    try:
        await bot.edit_message_text(
            chunks[0],
            chat_id=message.chat.id,
            message_id=message.message_id,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=markup if last else None,
        )
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise
    for index, chunk in enumerate(chunks[1:], start=2):
        await bot.send_message(
            message.chat.id,
            chunk,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=markup if index == len(chunks) else None,
        )


def display_name(user: User | None) -> str:
    if user is None:
        return ""
    return " ".join(part for part in (user.first_name, user.last_name) if part)
