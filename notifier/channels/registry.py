"""Which sender carries each channel, from the settings (an explicit table, no discovery)."""

from __future__ import annotations

from notifier.channels.base import Sender
from notifier.channels.maildir import MaildirSender
from notifier.channels.transcript import TranscriptSender
from notifier.config import Settings
from notifier.store.models import Channel


def build_senders(settings: Settings) -> dict[Channel, Sender]:
    """Email → Maildir in `<data_dir>/mail`; Telegram → transcript file. (SMTP and the Bot API
    take their place when configured.)"""
    return {
        Channel.EMAIL: MaildirSender(
            settings.mail_dir, mail_from=settings.mail_from, reply_to=settings.reply_to
        ),
        Channel.TELEGRAM: TranscriptSender(settings.telegram_transcript),
    }
