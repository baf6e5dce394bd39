"""The Telegram bot: subscribers follow countries and people and choose how often; group admins
subscribe their group to a prayer chain. A thin shell over `notifier.store.chats`."""

from notifier.bot.app import build_application, run_bot

__all__ = ["build_application", "run_bot"]
