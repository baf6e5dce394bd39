"""The `smtp_url` setting: which server, how it is secured, and with which login."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote, urlsplit


class Security(StrEnum):
    PLAIN = "plain"  # smtp://: no TLS (a relay on the same host or network)
    STARTTLS = "starttls"  # smtp+starttls://: STARTTLS required, never falls back to plain
    TLS = "tls"  # smtps://: TLS from the first byte


_SCHEMES = {
    "smtp": (Security.PLAIN, 25),
    "smtp+starttls": (Security.STARTTLS, 587),
    "smtps": (Security.TLS, 465),
}


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security
    username: str | None
    password: str | None

    @property
    def key(self) -> str:
        """`host:port`: how the channel's saved state names the server it learnt about."""
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str, *, password: str | None = None) -> SmtpServer:
    """Parse smtp://, smtp+starttls:// or smtps:// URLs; ValueError says what is wrong.
    `password` (from NOTIFIER_SMTP_PASSWORD) wins over one in the URL."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError(
            f"unknown scheme {parts.scheme!r}: use smtp://, smtp+starttls:// or smtps://"
        )
    if not parts.hostname:
        raise ValueError("no host, e.g. smtp+starttls://user@mail.example.org:587")
    security, default_port = _SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError("the port is not a number between 1 and 65535") from None
    username = unquote(parts.username) if parts.username else None
    secret = password if password is not None else (unquote(parts.password or "") or None)
    if secret and not username:
        raise ValueError("a password without a user name")
    if (
        username
        and security is Security.PLAIN
        and parts.hostname not in {"127.0.0.1", "localhost", "::1"}
    ):
        raise ValueError(
            "a login over plain smtp:// to another host would send the password in the clear; "
            "use smtp+starttls:// or smtps://"
        )
    return SmtpServer(parts.hostname, port, security, username, secret)


def masked_smtp_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
