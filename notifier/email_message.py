"""RFC 5322 messages from rendered content: multipart/alternative (text + HTML), every header a
list mail needs (RFC 2369 List-*, RFC 8058 one-click unsubscribe), names in any script encoded,
no header injection possible (folded whitespace only)."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses

from notifier.channels.base import EmailContent


def one_line(value: str) -> str:
    """CR, LF and other breaks collapse to single spaces: a value can never start a header."""
    return " ".join(value.split())


def build_email(content: EmailContent, *, mail_from: str, now: datetime) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    [(from_name, from_addr)] = getaddresses([mail_from])
    msg["From"] = Address(display_name=one_line(from_name), addr_spec=from_addr)
    msg["To"] = Address(display_name=one_line(content.to_name), addr_spec=content.to_address)
    msg["Subject"] = one_line(content.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = one_line(content.message_id)
    msg["List-Id"] = one_line(content.list_id)
    if content.unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{one_line(content.unsubscribe_url)}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(content.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(content.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
