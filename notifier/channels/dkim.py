"""DKIM signatures (RFC 6376) with dkimpy, over the headers a list mail is judged by."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dkim

from notifier.mail_address import ascii_domain

#: Signed headers. List-Unsubscribe and List-Unsubscribe-Post must be signed for RFC 8058
#: one-click unsubscribe to be honoured by the large mailbox providers.
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"reply-to",
    b"mime-version",
    b"content-type",
)
#: Signed once more than they occur (RFC 6376 §8.15, "oversigning"): a verifier then also
#: checks that no further one was added, so a second Subject, From or List-Unsubscribe put in
#: on the way breaks the signature instead of riding on it. A header we do not send (no
#: List-Unsubscribe on a confirmation, no Reply-To) is signed as absent, so none can be added.
OVERSIGNED = frozenset(SIGNED_HEADERS) - {b"mime-version", b"content-type"}


def header_names(message: bytes) -> list[bytes]:
    """The names of the message's header fields, lower case, in order (one per field)."""
    head = message.split(b"\r\n\r\n", 1)[0]
    return [
        line.split(b":", 1)[0].strip().lower()
        for line in head.split(b"\r\n")
        if b":" in line and not line.startswith((b" ", b"\t"))
    ]


def signed_headers(message: bytes) -> list[bytes]:
    """The `h=` list: each signed header once per occurrence, the oversigned ones once more."""
    present = header_names(message)
    signed: list[bytes] = []
    for name in SIGNED_HEADERS:
        count = present.count(name)
        signed += [name] * (count + 1 if name in OVERSIGNED else count)
    return signed


@dataclass(frozen=True)
class DkimSigner:
    selector: bytes
    domain: bytes
    private_key: bytes

    @classmethod
    def from_files(cls, *, selector: str, domain: str, key_file: Path) -> DkimSigner:
        try:
            key = key_file.read_bytes()
        except OSError as exc:
            raise ValueError(f"dkim_private_key_file {key_file}: {exc.strerror}") from None
        if b"PRIVATE KEY" not in key:
            raise ValueError(f"dkim_private_key_file {key_file}: not a PEM private key")
        return cls(selector.encode(), ascii_domain(domain).encode(), key)

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header in front (relaxed/relaxed)."""
        signature = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=signed_headers(message),
        )
        return bytes(signature) + message
