"""`notifier init`: make an installation where the settings point, or say what is there already.

notifier never creates a store as a side effect of another command (run from the wrong folder,
that gave an empty store in which nobody existed); this is the one place that does."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from notifier.config import DEFAULT_CONFIG_NAME, ENV_PREFIX, ConfigSource, Settings
from notifier.links import load_secret
from notifier.store.engine import migrate_schema, open_store, sqlite_file, store_location

_STARTER = """\
# notifier's settings, written by `notifier init`. Every setting and its default: the README,
# "Settings". NOTIFIER_<SETTING> environment variables win over this file. Relative paths
# here are relative to this file's folder. notifier finds this file from this folder and
# every folder below it (or name it with --config / NOTIFIER_CONFIG).

# The SQLite store, the Maildir (email without smtp_url) and the Telegram transcript.
data_dir = {data_dir}

# PostgreSQL instead (several workers can then share the outbox); the database must exist:
# database_url = "postgresql://notifier@127.0.0.1/notifier"

# The web app's public address: every link in every message is built from it.
# public_url = "https://alerts.example.org"

# Email by SMTP instead of into the Maildir (give the password as NOTIFIER_SMTP_PASSWORD):
# mail_from = "Prayer network <news@example.org>"
# smtp_url = "smtp+starttls://news@example.org@mail.example.org:587"
"""


def starter_config(environ: Mapping[str, str]) -> str:
    """A commented settings file; data_dir is `var` beside it, or the folder the environment
    names (so the file still finds the store when the variable is gone)."""
    named = environ.get(f"{ENV_PREFIX}DATA_DIR")
    data_dir = str(Path(named).absolute()) if named else "var"
    return _STARTER.format(data_dir=json.dumps(data_dir, ensure_ascii=False))


def config_to_write(source: ConfigSource, *, write: bool) -> Path | None:
    """Where `init` writes a starter settings file: the file named by --config or
    NOTIFIER_CONFIG that does not exist yet, or ./notifier.toml when none was found (unless
    `write` is off). An existing file is never touched."""
    if source.named:
        assert source.path is not None
        return None if source.path.exists() else source.path
    if source.how == "none" and write:
        return source.searched_from / DEFAULT_CONFIG_NAME
    return None


def write_starter(path: Path, environ: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as fh:  # "x": never over a file made meanwhile
        fh.write(starter_config(environ))


@dataclass
class InitReport:
    """What `init` found and what it made."""

    store: str
    #: Schema revision before (None: the store was created now) and after.
    schema_before: str | None
    schema_after: str | None
    data_dir: Path
    data_dir_created: bool
    #: The signing key file made now (None: it existed, or `secret_key` is set).
    secret_created: Path | None

    @property
    def created(self) -> bool:
        return self.schema_before is None


async def initialise(settings: Settings) -> InitReport:
    """Create the data folder, the store at the latest schema (a SQLite file, or notifier's
    schema in an existing PostgreSQL database) and the link-signing key; what exists stays."""
    data_dir = settings.data_dir.absolute()
    data_dir_created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = data_dir / "secret.key"
    secret_created = None
    if settings.secret_key is None and not secret.exists():
        load_secret(settings)
        secret_created = secret
    async with open_store(settings, migrate=False, create=True) as store:
        before, after = await migrate_schema(store.engine, create=True)
    path = sqlite_file(settings.database_url)
    return InitReport(
        store=str(path) if path is not None else store_location(settings.database_url),
        schema_before=before,
        schema_after=after,
        data_dir=data_dir,
        data_dir_created=data_dir_created,
        secret_created=secret_created,
    )
