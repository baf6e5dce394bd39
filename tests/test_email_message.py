"""The message builder: shared body encoded once, footer per recipient, and what comes out
parses back to exactly what went in, however the pieces fall."""

from __future__ import annotations

import email
import email.policy
import quopri
import random
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from notifier.channels.email_message import EmailBuilder, qp
from notifier.domain.messages import EmailContent, SharedBody

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WORDS = ["prayer", "Бахытжан", "中文", "🙏", "a=b", "x" * 90, "café", "tab\there", "end "]


def random_text(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(0, 6)):
        lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 25))))
    text = "\n".join(lines)
    return text + ("\n" if rng.random() < 0.5 else "")


def norm(text: str) -> str:
    """Line ends as a mail client shows them; the last line break belongs to the boundary."""
    return text.replace("\r\n", "\n").rstrip("\n")


def parts(raw: bytes) -> tuple[EmailMessage, str, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None
    assert html_part is not None
    return message, text_part.get_content(), html_part.get_content()


@pytest.mark.parametrize("seed", range(40))
def test_pieces_join_back_exactly(seed: int) -> None:
    rng = random.Random(seed)
    body = SharedBody(
        f"body-{seed}", random_text(rng), random_text(rng), random_text(rng), random_text(rng)
    )
    builder = EmailBuilder(mail_from="Prayer chain <news@example.org>")
    for n in range(3):  # the second and third reuse the cached encoding
        footer = random_text(rng)
        content = EmailContent(
            to_address=f"r{n}@example.org",
            to_name=rng.choice(["", "Anna", "Анна Петрова", "O'Brien, Pat"]),
            subject=random_text(rng) or "subject",
            body=body,
            text_footer=footer,
            html_footer=footer.upper(),
            message_id=f"<notifier.{n}.1@example.org>",
            list_id="Kazakhstan prayer chain <kz.example.org>",
            unsubscribe_url=f"https://example.org/unsubscribe/{n}",
        )
        raw = builder.build(content, now=NOW)
        head, _, rest = raw.partition(b"\r\n\r\n")
        assert all(len(line) <= 998 for line in head.split(b"\r\n"))  # a long word may not fold
        assert all(len(line) <= 76 for line in rest.split(b"\r\n")), "quoted-printable lines"
        assert b"\n" not in raw.replace(b"\r\n", b"")
        message, text, html = parts(raw)
        assert norm(text) == norm(body.text_before + footer + body.text_after)
        assert norm(html) == norm(body.html_before + footer.upper() + body.html_after)
        assert message["Message-ID"] == f"<notifier.{n}.1@example.org>"
        assert message["To"].addresses[0].addr_spec == f"r{n}@example.org"


@pytest.mark.parametrize(
    "text",
    [
        "é" * 12 + "xy\t\n",  # binascii's encoder would write a line of 77 here
        "line one\r\nline two\rline three\n",  # every kind of line break is one
        "=" * 40 + " \n",
        "x" * 200,
        "",
    ],
)
def test_quoted_printable_keeps_to_76_and_decodes_to_what_went_in(text: str) -> None:
    encoded = qp(text)
    lines = encoded.split(b"\r\n")
    assert all(len(line) <= 76 for line in lines)
    assert b"\r" not in encoded.replace(b"\r\n", b"")
    assert b"\n" not in encoded.replace(b"\r\n", b"")
    assert quopri.decodestring(encoded.replace(b"\r\n", b"\n")).decode("utf-8") == (
        text.replace("\r\n", "\n").replace("\r", "\n")
    )
    assert encoded.endswith(b"\r\n") == text.endswith(("\n", "\r"))


def test_quoted_printable_of_random_text_keeps_to_76_and_decodes() -> None:
    rng = random.Random(7)
    alphabet = "ab =\t\n\r.é€Жx-"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        encoded = qp(text)
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n")), text
        decoded = quopri.decodestring(encoded.replace(b"\r\n", b"\n")).decode("utf-8")
        assert decoded == text.replace("\r\n", "\n").replace("\r", "\n")
