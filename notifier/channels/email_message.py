"""RFC 5322 messages from rendered content: multipart/alternative (text + HTML, UTF-8), every
header a list mail needs (RFC 2369 List-*, RFC 8058 one-click unsubscribe), names and subjects
in any script RFC 2047-encoded, domains as A-labels, no header injection possible.

Built for throughput: the shared body of a message (everything but the footer) is encoded once
and cached; per recipient only the headers and the footer are encoded. Each part is sent in the
transfer encoding that makes it smaller: quoted-printable for mostly-ASCII text, base64 for text
mostly in other scripts (a Cyrillic digest is 40% smaller). All encoding is the standard
library's (binascii, quoprimime, base64, email.header, email.utils); this module only puts the
encoded pieces together in MIME order."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from email import quoprimime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr

from notifier.domain.messages import EmailContent, SharedBody
from notifier.mail_address import wire_address

CRLF = "\r\n"
#: The longest line quoted-printable may write (RFC 2045 6.7), the line break not counted.
QP_LINE = 76


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
    """Quoted-printable UTF-8, lines of at most 76, CRLF line ends. A piece that ends in a line
    break encodes to one that does, so pieces join at line boundaries.

    binascii's encoder (C, six times the speed: every message encodes its footer) where its
    lines keep to 76; where they do not (it can leave one of 77 when whitespace meets a soft
    break), the email package's encoder, as its content manager uses it."""
    # Any line break (CRLF, or a lone CR or LF) is one; none is encoded.
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    fast = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    if max(map(len, fast.split(b"\n"))) <= QP_LINE:
        encoded = fast.replace(b"\n", b"\r\n")
    else:
        slow = quoprimime.body_encode(data.decode("latin-1"), maxlinelen=QP_LINE, eol=CRLF)
        encoded = slow.encode("ascii")
    if text.endswith(("\n", "\r")) and not encoded.endswith(b"\r\n"):
        encoded += b"\r\n"
    return encoded


#: Base64 turns each 57 bytes into one line of 76 characters: pieces cut at a multiple of 57
#: bytes encode to whole lines and join into one valid base64 body.
B64_LINE_BYTES = 57
#: Bytes quoted-printable writes as `=XX` (three characters): all but printable ASCII, tab
#: and line breaks.
_QP_ESCAPED = bytes(range(128, 256)) + b"=" + bytes(c for c in range(32) if c not in (9, 10, 13))


def canonical_bytes(text: str) -> bytes:
    """UTF-8 with CRLF line ends, the canonical form base64 text must be in (RFC 2045)."""
    return text.replace("\r\n", "\n").replace("\n", CRLF).encode("utf-8")


def b64(data: bytes) -> bytes:
    """Base64 in lines of 76 with CRLF ends (each line ends in one, so pieces join)."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def prefers_base64(text: str) -> bool:
    """Whether base64 is smaller than quoted-printable for `text`. Counted, not encoded: each
    escaped byte costs quoted-printable three characters, each line of 76 a soft break of
    three; base64 costs 78 per 57 bytes. The line breaks of the text cost both about the
    same. Mostly-ASCII text stays quoted-printable (readable in the raw message); text that
    is mostly in another script (two escaped bytes a letter) goes base64."""
    data = text.encode("utf-8")
    size = len(data)
    escaped = size - len(data.translate(None, _QP_ESCAPED))
    quoted = size + 2 * escaped
    quoted += 3 * (quoted // 76)
    base = -(-size // B64_LINE_BYTES) * 78
    return base < quoted


@dataclass(frozen=True)
class _Part:
    """One text part of a shared body, encoded around the place of the personal footer:
    `before` and `after` are encoded once; `raw_before` + footer + `raw_after` per
    recipient (for quoted-printable the partial lines either side of the footer, for base64
    the bytes past the last whole line of `before`, and all that follows the footer)."""

    head: bytes
    before: bytes
    raw_before: str | bytes
    raw_after: str
    after: bytes

    def middle(self, footer: str) -> bytes:
        if isinstance(self.raw_before, bytes):
            return b64(self.raw_before + canonical_bytes(footer + self.raw_after))
        return qp(self.raw_before + footer + self.raw_after)


def _part(subtype: str, before: str, after: str) -> _Part:
    if prefers_base64(before + after):
        data = canonical_bytes(before)
        cut = len(data) // B64_LINE_BYTES * B64_LINE_BYTES
        return _Part(_part_head(subtype, "base64"), b64(data[:cut]), data[cut:], after, b"")
    before_lines, tail = _split_at_line(before)
    head, after_lines = _split_first_line(after)
    return _Part(
        _part_head(subtype, "quoted-printable"), qp(before_lines), tail, head, qp(after_lines)
    )


def _part_head(subtype: str, encoding: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}"
    ).encode("ascii")


@dataclass(frozen=True)
class _Encoded:
    boundary: str
    subject: str
    text: _Part
    html: _Part


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
        self.envelope_from = wire_address(address)
        self.from_header = mailbox(name, self.envelope_from, "From")
        self.reply_to = None
        if reply_to:
            rname, raddress = parseaddr(reply_to)
            self.reply_to = mailbox(rname, wire_address(raddress), "Reply-To")
        self._cache: OrderedDict[str, _Encoded] = OrderedDict()
        self._cache_size = cache_size
        self._date_cache: tuple[int, str] = (-1, "")

    def _encoded(self, body: SharedBody, subject: str) -> _Encoded:
        """The body's parts, their shared pieces encoded (once per body and subject)."""
        key = body.key + "\0" + subject
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        encoded = _Encoded(
            boundary=f"=_notifier_{uuid.uuid4().hex}",
            subject=encode_unstructured(subject),
            text=_part("plain", body.text_before, body.text_after),
            html=_part("html", body.html_before, body.html_after),
        )
        self._cache[key] = encoded
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return encoded

    def _date(self, now: datetime) -> str:
        """The Date header, formatted once per second rather than once per message."""
        second = int(now.timestamp())
        if self._date_cache[0] != second:
            self._date_cache = (second, format_datetime(now.replace(microsecond=0)))
        return self._date_cache[1]

    def build(self, content: EmailContent, *, now: datetime) -> bytes:
        """The message's bytes. Its headers are ASCII unless the recipient's local part is
        not: then they are UTF-8 (RFC 6532), and only a server with SMTPUTF8 may carry it."""
        encoded = self._encoded(content.body, content.subject)
        to = wire_address(one_line(content.to_address))
        headers = [
            f"From: {self.from_header}",
            f"To: {mailbox(content.to_name, to, 'To')}",
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
        boundary = encoded.boundary.encode()
        text, html = encoded.text, encoded.html
        return b"".join(
            [
                CRLF.join(headers).encode("utf-8"),
                b"\r\n\r\n--", boundary, b"\r\n",
                text.head, text.before, text.middle(content.text_footer), text.after,
                b"\r\n--", boundary, b"\r\n",
                html.head, html.before, html.middle(content.html_footer), html.after,
                b"\r\n--", boundary, b"--\r\n",
            ]
        )  # fmt: skip
