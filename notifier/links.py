"""Signed links in messages: unsubscribe, preferences, confirmation and a digest's web copy. Hard
to forge (HMAC via itsdangerous, a key per purpose). A subscriber's links never expire and are
revoked by bumping `token_version`; a confirmation link expires."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from itsdangerous import BadSignature, Signer, TimestampSigner

from notifier.config import Settings
from notifier.errors import NotifierError
from notifier.numbers import as_int

UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
CONFIRM = "confirm"
DIGEST = "digest"
#: A confirmation link works this long (double opt-in).
CONFIRM_MAX_AGE = 3 * 24 * 3600


class BadToken(NotifierError):
    """A link token that is forged, altered or revoked. Deliberately says nothing more."""


def load_secret(settings: Settings) -> str:
    """The signing key: from the settings, else `<data_dir>/secret.key`, created on first use
    (readable by the owner only)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path: Path = settings.data_dir / "secret.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def _pair(value: str) -> tuple[int, int]:
    """(subscriber id, version) from "12.1"; BadToken for anything else."""
    subscriber, _, version = value.partition(".")
    subscriber_id, number = as_int(subscriber), as_int(version)
    if subscriber_id is None or number is None:
        raise BadToken("invalid link")
    return subscriber_id, number


@dataclass(frozen=True)
class Links:
    public_url: str
    secret: str
    _signers: dict[str, Signer] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Links:
        return cls(settings.public_url, load_secret(settings))

    def _signer(self, purpose: str) -> Signer:
        signer = self._signers.get(purpose)
        if signer is None:
            # HMAC-SHA256 over "<subscriber id>.<version>", a different key per purpose.
            signer = self._signers[purpose] = Signer(
                self.secret, salt=purpose, digest_method=hashlib.sha256
            )
        return signer

    def token(self, purpose: str, subscriber_id: int, version: int) -> str:
        """'12.1.<signature>': short, URL-safe, and useless for any other purpose."""
        return self._signer(purpose).sign(f"{subscriber_id}.{version}").decode("ascii")

    def verify(self, purpose: str, token: str) -> tuple[int, int]:
        """(subscriber id, token version) from a token; BadToken if it is not one of ours."""
        try:
            value = self._signer(purpose).unsign(token).decode("ascii")
        except (BadSignature, UnicodeError):
            raise BadToken("invalid link") from None
        return _pair(value)

    def confirm_url(self, subscriber_id: int, version: int) -> str:
        """A link that confirms a subscription; it expires after CONFIRM_MAX_AGE."""
        signer = TimestampSigner(self.secret, salt=CONFIRM, digest_method=hashlib.sha256)
        token = signer.sign(f"{subscriber_id}.{version}").decode("ascii")
        return f"{self.public_url}/confirm/{token}"

    def verify_confirm(self, token: str, *, max_age: int = CONFIRM_MAX_AGE) -> tuple[int, int]:
        """(subscriber id, version) from a confirmation token; BadToken if forged or expired."""
        signer = TimestampSigner(self.secret, salt=CONFIRM, digest_method=hashlib.sha256)
        try:
            value = signer.unsign(token, max_age=max_age).decode("ascii")
        except (BadSignature, UnicodeError):  # SignatureExpired is a BadSignature
            raise BadToken("invalid link") from None
        return _pair(value)

    def digest_url(self, body_id: int) -> str:
        """The web copy of a stored digest body: the same for everyone who got that body."""
        token = self._signer(DIGEST).sign(str(body_id)).decode("ascii")
        return f"{self.public_url}/digests/{token}"

    def verify_digest(self, token: str) -> int:
        """The body id of a web-copy token; BadToken if it is not one of ours."""
        try:
            value = self._signer(DIGEST).unsign(token).decode("ascii")
        except (BadSignature, UnicodeError):
            raise BadToken("invalid link") from None
        body_id = as_int(value)
        if body_id is None:
            raise BadToken("invalid link")
        return body_id

    def unsubscribe_url(self, subscriber_id: int, version: int, list_id: int | None = None) -> str:
        """The unsubscribe link; from a list's digest it names the list too ('12.1.5'), so the
        page can offer to leave only that list. Links without it (older ones too) still work."""
        value = f"{subscriber_id}.{version}" + (f".{list_id}" if list_id is not None else "")
        token = self._signer(UNSUBSCRIBE).sign(value).decode("ascii")
        return f"{self.public_url}/unsubscribe/{token}"

    def verify_unsubscribe(self, token: str) -> tuple[int, int, int | None]:
        """(subscriber id, token version, list id or None) from an unsubscribe token; BadToken
        if it is not one of ours."""
        try:
            value = self._signer(UNSUBSCRIBE).unsign(token).decode("ascii")
        except (BadSignature, UnicodeError):
            raise BadToken("invalid link") from None
        head, _, tail = value.rpartition(".")
        if head.count(".") == 1:  # '12.1.5': the list comes last
            list_id = as_int(tail)
            if list_id is None:
                raise BadToken("invalid link")
            return (*_pair(head), list_id)
        return (*_pair(value), None)

    def preferences_url(self, subscriber_id: int, version: int) -> str:
        return f"{self.public_url}/preferences/{self.token(PREFERENCES, subscriber_id, version)}"
