"""VERP: every email goes out from `bounces+<outbox id>.<signature>@domain`, so a bounce, which
mail systems send to the envelope sender, says which message failed. The signature (HMAC,
lower-case hex: some mail systems fold case) keeps anyone from forging a bounce that would
stop mail to someone else."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from notifier.numbers import as_int

#: Hex digits of the signature kept: 64 bits, plenty for a token nobody sees.
SIGNATURE_DIGITS = 16


@dataclass(frozen=True)
class Verp:
    bounce_address: str
    secret: str

    def _signature(self, outbox_id: int) -> str:
        key = f"verp:{self.secret}".encode()
        digest = hmac.new(key, str(outbox_id).encode(), hashlib.sha256).hexdigest()
        return digest[:SIGNATURE_DIGITS]

    def envelope_from(self, outbox_id: int) -> str:
        local, _, domain = self.bounce_address.rpartition("@")
        return f"{local}+{outbox_id}.{self._signature(outbox_id)}@{domain}"

    def outbox_id(self, address: str) -> int | None:
        """The message an address of ours names; None for any other address or a forgery."""
        local, _, domain = self.bounce_address.rpartition("@")
        token = rf"\+(\d{{1,18}})\.([0-9a-f]{{{SIGNATURE_DIGITS}}})"
        pattern = f"{re.escape(local)}{token}@{re.escape(domain)}"
        found = re.fullmatch(pattern, address.strip().strip("<>"), flags=re.IGNORECASE)
        if found is None:
            return None
        outbox_id = as_int(found.group(1))
        if outbox_id is None:
            return None
        expected = self._signature(outbox_id)
        return outbox_id if hmac.compare_digest(expected, found.group(2).lower()) else None
