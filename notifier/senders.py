"""Wiring: which sender carries each channel, built from the settings (an explicit table, no
discovery). It knows every channel, the bounce addresses and the links, so it sits beside
service.py, above the channels."""

from __future__ import annotations

from notifier.channels.base import Sender
from notifier.channels.maildir import MaildirSender
from notifier.channels.transcript import TranscriptSender
from notifier.config import Settings
from notifier.domain import Channel
from notifier.smtp_url import parse_smtp_url


def email_sender(settings: Settings) -> Sender:
    """SMTP when `smtp_url` is set, else the Maildir in `<data_dir>/mail`."""
    if settings.smtp_url is None:
        return MaildirSender(
            settings.mail_dir, mail_from=settings.mail_from, reply_to=settings.reply_to
        )
    # Imported here: every CLI command loads this module, few of them send.
    from notifier.channels.dkim import DkimSigner
    from notifier.channels.smtp import SmtpSender

    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    server = parse_smtp_url(settings.smtp_url.get_secret_value(), password=password)
    dkim = None
    if settings.dkim_selector and settings.dkim_domain and settings.dkim_private_key_file:
        dkim = DkimSigner.from_files(
            selector=settings.dkim_selector,
            domain=settings.dkim_domain,
            key_file=settings.dkim_private_key_file,
        )
    envelope_from = None
    if settings.bounce_address:
        from notifier.bounces.verp import Verp
        from notifier.links import load_secret

        envelope_from = Verp(settings.bounce_address, load_secret(settings)).envelope_from
    return SmtpSender(
        server,
        envelope_from=envelope_from,
        mail_from=settings.mail_from,
        reply_to=settings.reply_to,
        pool_size=settings.smtp_pool_size,
        rate_limit=settings.smtp_rate_limit,
        timeout=settings.smtp_timeout,
        verify_tls=settings.smtp_verify_tls,
        ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        dkim=dkim,
        pause_max=settings.smtp_pause_max,
        helo_name=settings.helo_name,
    )


def telegram_sender(settings: Settings) -> Sender:
    """The Bot API when `telegram_bot_token` is set, else the transcript file."""
    if settings.telegram_bot_token is None:
        return TranscriptSender(settings.telegram_transcript)
    from notifier.channels.telegram import TelegramSender

    return TelegramSender(
        settings.telegram_bot_token.get_secret_value(), api_url=settings.telegram_api_url
    )


def build_senders(settings: Settings) -> dict[Channel, Sender]:
    return {Channel.EMAIL: email_sender(settings), Channel.TELEGRAM: telegram_sender(settings)}
