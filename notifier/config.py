"""Settings: defaults < notifier.toml < NOTIFIER_* environment; one object, passed in.

A plain pydantic model: notifier reads the file and the variables itself (to say where a bad
value came from), so pydantic-settings had nothing left to do but cost every command a fifth
of its start-up."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from notifier.errors import ConfigError
from notifier.locales import language_tag
from notifier.mail_address import ascii_domain, check_host_name
from notifier.smtp_url import masked_smtp_url, parse_smtp_url

ENV_PREFIX = "NOTIFIER_"
DEFAULT_CONFIG_NAME = "notifier.toml"

# Drivers notifier runs on; a plain scheme is taken to mean the async driver we ship.
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class Settings(BaseModel):
    """Everything notifier can be told. Build one with `load_settings`; tests pass their own."""

    # validate_default: a default goes through the same checks as a value given.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    #: Where the SQLite store and (later) the Maildir live.
    data_dir: Path = Path("var")
    #: SQLAlchemy URL; default: SQLite file `<data_dir>/notifier.db`.
    database_url: str = ""
    #: Time zone given to subscribers and lists that do not name one.
    default_time_zone: str = "UTC"
    #: Locale given to subscribers that do not name one.
    default_locale: str = "en"
    #: Base URL of the web app, used for links in messages.
    public_url: str = "http://127.0.0.1:8000"
    #: Bearer token for the admin API under /api, acting as an owner (without one, only users'
    #: own API tokens are taken).
    api_token: SecretStr | None = None
    #: Where the web app listens (`notifier run` and `notifier web`).
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=0, le=65535)
    #: Key that signs unsubscribe and preference links; default: generated once and kept in
    #: `<data_dir>/secret.key`. Changing it invalidates every link already sent.
    secret_key: SecretStr | None = None
    #: The console (/admin) signs a user out after this many minutes without a request…
    console_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    #: …and after this many hours in all, however busy.
    console_session_hours: int = Field(default=12, ge=1, le=30 * 24)
    #: Owners must set up a second factor (TOTP) before they can use the console.
    console_owner_totp: bool = False
    #: How long a set-password link (`notifier users reset-password`) works, in hours.
    console_reset_hours: int = Field(default=24, ge=1, le=7 * 24)
    #: A folder whose templates override the shipped ones, file by file.
    templates_dir: Path | None = None
    #: The sender of every email, and the domain of Message-IDs and List-Ids.
    mail_from: str = "notifier <notifier@localhost>"
    #: The network's name: in List-Id, page titles, and the confirmation text that says who is
    #: asking.
    network_name: str = "notifier"
    #: How often the watcher looks for new updates, and the deliverer for due messages (s).
    watch_interval: float = Field(default=1.0, gt=0)
    #: Messages claimed per delivery batch.
    deliver_batch: int = Field(default=500, ge=1, le=10_000)
    #: How long a claimed message may stay "sending" before another worker may take it (s): a
    #: last resort; a worker that dies loses its claims as soon as it is found dead.
    lease_seconds: int = Field(default=300, ge=1)
    #: How often each delivering process writes its heartbeat, and looks for dead ones (s).
    worker_heartbeat: float = Field(default=1.0, gt=0, le=60)
    #: A worker silent this long is dead: any other takes its claimed messages back at once
    #: (s). One on the same machine whose process is gone is dead without waiting.
    worker_timeout: float = Field(default=5.0, gt=0, le=3600)
    #: First retry delay (s); doubles each attempt, with jitter, up to `retry_max_delay`.
    retry_base_delay: float = Field(default=30.0, gt=0)
    retry_max_delay: float = Field(default=3600.0, gt=0)
    #: Finished messages (sent, failed, suppressed) are deleted after this many days.
    outbox_retention_days: int = Field(default=90, ge=1)
    #: A message still failing this long after it was queued is marked failed (s; 3 days).
    max_message_age: int = Field(default=3 * 24 * 3600, ge=60)
    #: Send email by SMTP instead of into the Maildir: smtp://host:25 (plain, a local relay),
    #: smtp+starttls://user:pass@host:587 (STARTTLS required), smtps://user:pass@host:465.
    smtp_url: SecretStr | None = None
    #: The SMTP password, if not in the URL (keeps it out of the URL and the config file).
    smtp_password: SecretStr | None = None
    #: Connections kept open to the SMTP server; messages are spread over them.
    smtp_pool_size: int = Field(default=4, ge=1, le=64)
    #: At most this many messages per second to the server (default: no limit).
    smtp_rate_limit: float | None = Field(default=None, gt=0)
    #: Seconds to wait for the server to answer any one command.
    smtp_timeout: float = Field(default=60.0, gt=0)
    #: When the server cannot be reached, email waits 5 s, then twice as long after each failed
    #: try, up to this (s); then one connection tries again, and on success all of them go.
    smtp_pause_max: float = Field(default=30.0, ge=1, le=3600)
    #: Check the server's TLS certificate (leave on outside tests), optionally against this CA.
    smtp_verify_tls: bool = True
    smtp_ca_file: Path | None = None
    #: The name notifier gives itself in EHLO/HELO; None: the domain of `mail_from` (receivers
    #: check that it names a real host, and `localhost` or a bare machine name scores as spam).
    smtp_helo_name: str | None = None
    #: Reply-To for every email (e.g. the list's coordinator); default none.
    reply_to: str | None = None
    #: The envelope sender for email by SMTP, where bounces go, e.g. bounces@example.org. Each
    #: message is sent from bounces+<signed message id>@example.org (VERP), so a bounce that
    #: arrives days later names the message and its recipient beyond doubt.
    bounce_address: str | None = None
    #: A Maildir your mail system delivers the bounce address's mail to (bounces+anything@…);
    #: `notifier run` reads it every minute and stops mail to addresses that failed for good.
    bounce_maildir: Path | None = None
    #: Temporary failures (mailbox full, …) reported on this many different days, none more
    #: than `bounce_soft_reset_days` after the one before, make the address bounced (0: never).
    bounce_soft_limit: int = Field(default=5, ge=0)
    bounce_soft_reset_days: int = Field(default=14, ge=1)
    #: Bounce reports already read are deleted from the Maildir after this many days.
    bounce_retention_days: int = Field(default=30, ge=1)
    #: A Telegram bot token (from @BotFather): Telegram messages go through the Bot API and
    #: `notifier run` starts the bot. Without one, they go to a transcript file.
    telegram_bot_token: SecretStr | None = None
    #: The bot's username (without @), for "get these messages in Telegram" links.
    telegram_bot_username: str | None = None
    #: The Bot API's base URL, "https://api.telegram.org/bot" by default (tests use a fake).
    telegram_api_url: str | None = None
    #: DKIM signing (all three, or none): selector, domain, and the PEM private key file.
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key_file: Path | None = None

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value:
            return value
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        driver = _DRIVERS.get(url.drivername)
        if driver is None:
            raise ValueError(
                f"unsupported database {url.drivername!r}; use sqlite:///FILE or "
                "postgresql://USER@HOST/DB"
            )
        return url.set(drivername=driver).render_as_string(hide_password=False)

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
            ) from None
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("mail_from")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        from email.headerregistry import Address
        from email.utils import parseaddr

        _, address = parseaddr(value)
        if "@" not in address:
            raise ValueError(f"{value!r} is not an address, e.g. 'Prayer chain <news@example.org>'")
        Address(addr_spec=address)
        ascii_domain(address.rpartition("@")[2])  # an IDN domain must have an A-label form
        return value

    @field_validator("default_locale")
    @classmethod
    def _a_language(cls, value: str) -> str:
        return language_tag(value)

    @field_validator("network_name")
    @classmethod
    def _one_line_name(cls, value: str) -> str:
        name = " ".join(value.split())
        if not name:
            raise ValueError("give the network a name, e.g. 'Kazakhstan prayer network'")
        return name

    @field_validator("smtp_helo_name")
    @classmethod
    def _host_name(cls, value: str | None) -> str | None:
        return None if value is None else check_host_name(value)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_smtp_url(value.get_secret_value())  # raises ValueError naming the problem
        return value

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        return None if value is None else cls._mailbox(value)

    @field_validator("bounce_address")
    @classmethod
    def _bare_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from email.headerregistry import Address

        local, at, domain = value.strip().rpartition("@")
        if not at or not local or not domain or "+" in local:
            raise ValueError(
                f"{value!r}: give a plain address without '+', e.g. bounces@example.org"
            )
        Address(addr_spec=value.strip())
        return value.strip()

    @model_validator(mode="after")
    def _bounces_need_verp(self) -> Settings:
        if self.bounce_maildir is not None and self.bounce_address is None:
            raise ValueError(
                "bounce_maildir needs bounce_address: only bounces to its signed addresses "
                "are trusted"
            )
        return self

    @model_validator(mode="after")
    def _heartbeats_fit_the_timeout(self) -> Settings:
        if self.worker_timeout < 2 * self.worker_heartbeat:
            raise ValueError(
                "worker_timeout must be at least twice worker_heartbeat: a live worker would "
                "be taken for dead between two heartbeats"
            )
        return self

    @model_validator(mode="after")
    def _dkim_complete(self) -> Settings:
        given = [self.dkim_selector, self.dkim_domain, self.dkim_private_key_file]
        if any(given) and not all(given):
            raise ValueError(
                "DKIM needs dkim_selector, dkim_domain and dkim_private_key_file together"
            )
        return self

    @property
    def mail_domain(self) -> str:
        return _domain_of(self.mail_from)

    @property
    def helo_name(self) -> str:
        """What notifier calls itself in EHLO: `smtp_helo_name`, else `mail_from`'s domain."""
        return self.smtp_helo_name or ascii_domain(self.mail_domain)

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def telegram_transcript(self) -> Path:
        return self.data_dir / "telegram-transcript.jsonl"

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / "notifier.db").resolve()
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{path}")
        return self

    def masked(self) -> dict[str, Any]:
        """The effective settings with passwords and secrets hidden, for `config show`."""
        shown: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if name == "database_url":
                value = make_url(value).render_as_string(hide_password=True)
            elif name == "smtp_url" and value is not None:
                value = masked_smtp_url(value.get_secret_value())
            elif "secret" in name or "token" in name or "password" in name:
                value = "********" if value else ""
            elif value is None:
                value = ""
            shown[name] = str(value) if isinstance(value, Path) else value
        return shown


@lru_cache(maxsize=16)
def _domain_of(mailbox: str) -> str:
    from email.utils import parseaddr

    return parseaddr(mailbox)[1].rpartition("@")[2]


#: Settings that name a file or folder. A relative one in a settings file is relative to that
#: file's folder (as git resolves paths in .git/config), so the file means the same from
#: any working folder; from the environment it is relative to the working folder.
PATH_SETTINGS = (
    "data_dir",
    "templates_dir",
    "smtp_ca_file",
    "bounce_maildir",
    "dkim_private_key_file",
)


@dataclass(frozen=True)
class ConfigSource:
    """Which settings file is read and how it was chosen, so a message can say where notifier
    looked: named by --config or NOTIFIER_CONFIG, found by walking up from the working folder
    (as git finds .git), or none."""

    path: Path | None
    #: "disabled": NOTIFIER_CONFIG is set but empty, which reads no file.
    how: Literal["--config", "NOTIFIER_CONFIG", "found", "none", "disabled"]
    searched_from: Path

    @property
    def named(self) -> bool:
        return self.how in {"--config", "NOTIFIER_CONFIG"}

    def describe(self) -> str:
        if self.how == "found":
            return f"settings from {self.path} (found from {self.searched_from})"
        if self.named:
            return f"settings from {self.path} (named by {self.how})"
        if self.how == "disabled":
            return f"no settings file ({ENV_PREFIX}CONFIG is set but empty)"
        return f"no {DEFAULT_CONFIG_NAME} in {self.searched_from} or any folder above it"


def locate_config(
    config: Path | None, environ: Mapping[str, str], *, cwd: Path | None = None
) -> ConfigSource:
    """The settings file to read: the one named by --config or NOTIFIER_CONFIG (it must exist
    then; an empty NOTIFIER_CONFIG means none), else the nearest notifier.toml in the working
    folder or a folder above it."""
    start = (cwd or Path.cwd()).absolute()
    if config is not None:
        return ConfigSource(config, "--config", start)
    named = environ.get(f"{ENV_PREFIX}CONFIG")
    if named is not None:
        if not named:
            return ConfigSource(None, "disabled", start)
        return ConfigSource(Path(named), "NOTIFIER_CONFIG", start)
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_CONFIG_NAME
        if candidate.is_file():
            return ConfigSource(candidate, "found", start)
    return ConfigSource(None, "none", start)


def _anchor_paths(values: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A settings file's relative paths (and relative SQLite file), made relative to `folder`.
    Without a data_dir of its own, the file's data_dir is `var` beside it."""
    anchored = dict(values)
    anchored.setdefault("data_dir", Settings.model_fields["data_dir"].default)
    for name in PATH_SETTINGS:
        value = anchored.get(name)
        if isinstance(value, str | Path) and str(value) and not Path(value).is_absolute():
            anchored[name] = folder / Path(value).expanduser()
    url = anchored.get("database_url")
    if isinstance(url, str) and url:
        try:
            parsed = make_url(url)
        except ArgumentError:
            return anchored  # the validator says what is wrong with it
        database = parsed.database
        if (
            parsed.get_backend_name() == "sqlite"
            and database
            and database != ":memory:"
            and not database.startswith("file:")
            and not Path(database).is_absolute()
        ):
            moved = parsed.set(database=str(folder / database))
            anchored["database_url"] = moved.render_as_string(hide_password=False)
    return anchored


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    # Allow the settings either at top level or under a [notifier] table.
    table = data.get("notifier", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [notifier] must be a table")
    return table


def load_settings(config: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings: defaults < the TOML file < NOTIFIER_* variables in `environ`."""
    env = os.environ if environ is None else environ
    return settings_from(locate_config(config, env), env)


def settings_from(source: ConfigSource, environ: Mapping[str, str]) -> Settings:
    """The settings from the file `source` names (if any) and the NOTIFIER_* variables."""
    env = dict(environ)
    path = source.path
    file_values: dict[str, Any] = {}
    if path is not None:
        file_values = _anchor_paths(_read_toml(path), path.absolute().parent)
    env_values = {
        name: env[f"{ENV_PREFIX}{name.upper()}"]
        for name in Settings.model_fields
        if f"{ENV_PREFIX}{name.upper()}" in env
    }

    try:
        # The environment wins over the file (the environment given, not os.environ).
        return Settings.model_validate(file_values | env_values)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path, file_values, env_values)) from None


def _explain(
    exc: ValidationError,
    path: Path | None,
    file_values: Mapping[str, Any],
    env_values: Mapping[str, Any],
) -> str:
    lines = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else "?"
        if key in env_values:
            origin = f"environment variable {ENV_PREFIX}{key.upper()}"
        elif key in file_values:
            origin = f"{path}"
        else:
            origin = "default"
        reason = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            reason = f"unknown setting (known: {', '.join(sorted(Settings.model_fields))})"
        lines.append(f"setting {key!r} from {origin}: {reason}")
    return "\n".join(lines)
