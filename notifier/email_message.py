"""RFC 5322 messages from rendered content: multipart/alternative (text + HTML, both
quoted-printable UTF-8), every header a list mail needs (RFC 2369 List-*, RFC 8058 one-click
unsubscribe), names and subjects in any script RFC 2047-encoded, no header injection possible.

Built for throughput: the shared body of a message (everything but the footer) is encoded once
and cached; per recipient only the headers and the footer are encoded. All encoding is the
standard library's (binascii's quoted-printable, email.header, email.utils); this module only
puts the encoded pieces together in MIME order."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from email import quoprimime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr

from notifier.channels.base import EmailContent, SharedBody

CRLF = "\r\n"


def one_line(value: str) -> str:
    """CR, LF and other breaks collapse to single spaces: a value can never start a header."""
    return " ".join(value.split())


def _ascii(value: str) -> bool:
    return value.isascii()


def encode_phrase(name: str, header: str) -> str:
    """A display name, quoted if ASCII, else RFC 2047 encoded words folded under 78 columns
    (counting the header's own name on the first line)."""
    name = one_line(name)
    if _ascii(name):
        return formataddr((name, "x@x")).rsplit(" <", 1)[0] if name else ""
    return Header(name, "utf-8", header_name=header).encode(linesep=CRLF)


def mailbox(name: str, address: str, header: str) -> str:
    """`Name <address>`, the address on a line of its own when the name's last line is full."""
    phrase = encode_phrase(name, header)
    if not phrase:
        return address
    last = phrase.rsplit(CRLF, 1)[-1]
    width = len(last) + (len(header) + 2 if CRLF not in phrase else 0)
    joiner = f"{CRLF} " if width + len(address) + 3 > 78 else " "
    return f"{phrase}{joiner}<{address}>"


def fold_url(header: str, url: str) -> str:
    """`<url>` on the header's line if it fits in 78 columns, else on a folded line."""
    value = f"<{one_line(url)}>"
    return f" {value}" if len(header) + 2 + len(value) <= 78 else f"{CRLF} {value}"


def encode_unstructured(value: str) -> str:
    """Subject-like text, folded; RFC 2047 encoded when not ASCII."""
    value = one_line(value)
    charset = "us-ascii" if _ascii(value) else "utf-8"
    return Header(value, charset, header_name="Subject").encode(linesep=CRLF)


def qp(text: str) -> bytes:
    """Quoted-printable UTF-8, lines of at most 76, CRLF line ends (the email package's
    encoder, as its content manager uses it). A piece that ends in a line break encodes to one
    that does, so pieces join at line boundaries."""
    data = text.replace("\r\n", "\n").encode("utf-8").decode("latin-1")
    encoded = quoprimime.body_encode(data, maxlinelen=76, eol=CRLF)
    if text.endswith("\n") and not encoded.endswith(CRLF):
        encoded += CRLF
    return encoded.encode("ascii")


@dataclass(frozen=True)
class _Encoded:
    boundary: str
    subject: str
    text_before: bytes
    text_after: bytes
    html_before: bytes
    html_after: bytes


def _split_at_line(before: str) -> tuple[str, str]:
    """Split `before` after its last line break, so encoded pieces join at line boundaries."""
    cut = before.rfind("\n") + 1
    return before[:cut], before[cut:]


def _split_first_line(after: str) -> tuple[str, str]:
    """Split `after` after its first line break (all of it if it has none)."""
    cut = after.find("\n") + 1
    return (after, "") if cut == 0 else (after[:cut], after[cut:])


class EmailBuilder:
    """Builds the bytes of each message; keeps the encoded shared bodies of recent messages."""

    def __init__(self, *, mail_from: str, reply_to: str | None = None, cache_size: int = 512):
        name, address = parseaddr(mail_from)
        self.envelope_from = address
        self.from_header = mailbox(name, address, "From")
        self.reply_to = None
        if reply_to:
            rname, raddress = parseaddr(reply_to)
            self.reply_to = mailbox(rname, raddress, "Reply-To")
        self._cache: OrderedDict[str, tuple[_Encoded, tuple[str, str, str, str]]] = OrderedDict()
        self._cache_size = cache_size
        self._date_cache: tuple[int, str] = (-1, "")

    def _encoded(
        self, body: SharedBody, subject: str
    ) -> tuple[_Encoded, tuple[str, str, str, str]]:
        """The body's encoded shared pieces, and the raw text around the footer (the partial
        lines either side of it), which is encoded per recipient with the footer."""
        key = body.key + "\0" + subject
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        text_before, text_tail = _split_at_line(body.text_before)
        html_before, html_tail = _split_at_line(body.html_before)
        text_head, text_after = _split_first_line(body.text_after)
        html_head, html_after = _split_first_line(body.html_after)
        encoded = _Encoded(
            boundary=f"=_notifier_{uuid.uuid4().hex}",
            subject=encode_unstructured(subject),
            text_before=qp(text_before),
            text_after=qp(text_after),
            html_before=qp(html_before),
            html_after=qp(html_after),
        )
        entry = (encoded, (text_tail, text_head, html_tail, html_head))
        self._cache[key] = entry
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return entry

    def _date(self, now: datetime) -> str:
        """The Date header, formatted once per second rather than once per message."""
        second = int(now.timestamp())
        if self._date_cache[0] != second:
            self._date_cache = (second, format_datetime(now.replace(microsecond=0)))
        return self._date_cache[1]

    def build(self, content: EmailContent, *, now: datetime) -> bytes:
        encoded, (text_tail, text_head, html_tail, html_head) = self._encoded(
            content.body, content.subject
        )
        headers = [
            f"From: {self.from_header}",
            f"To: {mailbox(content.to_name, content.to_address, 'To')}",
            f"Subject: {encoded.subject}",
            f"Date: {self._date(now)}",
            f"Message-ID: {one_line(content.message_id)}",
        ]
        if self.reply_to:
            headers.append(f"Reply-To: {self.reply_to}")
        list_name, _, list_address = one_line(content.list_id).rpartition(" <")
        headers.append(f"List-Id: {mailbox(list_name, list_address.rstrip('>'), 'List-Id')}")
        if content.unsubscribe_url:
            url = fold_url("List-Unsubscribe", content.unsubscribe_url)
            headers.append(f"List-Unsubscribe:{url}")
            headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        headers += [
            "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative;{CRLF} boundary="{encoded.boundary}"',
        ]
        part_head = (
            'Content-Type: text/{}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        boundary = encoded.boundary.encode()
        text_middle = qp(text_tail + content.text_footer + text_head)
        html_middle = qp(html_tail + content.html_footer + html_head)
        return b"".join(
            [
                CRLF.join(headers).encode("ascii"),
                b"\r\n\r\n--", boundary, b"\r\n",
                part_head.format("plain").encode(),
                encoded.text_before, text_middle, encoded.text_after,
                b"\r\n--", boundary, b"\r\n",
                part_head.format("html").encode(),
                encoded.html_before, html_middle, encoded.html_after,
                b"\r\n--", boundary, b"--\r\n",
            ]
        )  # fmt: skip
