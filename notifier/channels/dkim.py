"""DKIM signatures (RFC 6376) with dkimpy, over the headers a list mail is judged by."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dkim

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
        return cls(selector.encode(), domain.encode(), key)

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header in front (relaxed/relaxed)."""
        present = {
            line.split(b":", 1)[0].strip().lower()
            for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if b":" in line and not line.startswith((b" ", b"\t"))
        }
        headers = [h for h in SIGNED_HEADERS if h in present]
        signature = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=headers,
        )
        return bytes(signature) + message
