"""Synthetic networks for the benchmarks: countries, cases, updates, subscribers and what they
follow, bulk-loaded through the project's own models and engine.

Everything is drawn from a seeded `random.Random`, so a run is repeatable. Subscribers and
subscriptions get explicit ids and are written in large batches: `executemany` on SQLite,
asyncpg's `copy_records_to_table` on PostgreSQL (then the id sequences are moved past them)."""

from __future__ import annotations

import random
import resource
import sys
import time
from bisect import bisect
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from notifier.config import Settings
from notifier.domain import (
    ActionKind,
    Cadence,
    CaseStatus,
    Channel,
    MemberSource,
    Scope,
    Severity,
    SubscriberStatus,
    target_of,
)
from notifier.store.engine import Store, create_engine, open_store
from notifier.store.models import (
    Case,
    ListFollow,
    ListMember,
    MailingList,
    Subscriber,
    Subscription,
    Update,
)

T = TypeVar("T")

#: Fifty countries (ISO 3166 alpha-2), in the order popularity weights are given out.
COUNTRIES = (
    "KZ", "CN", "KP", "IR", "NG", "UZ", "VN", "IN", "PK", "ER",
    "RU", "TM", "TJ", "BY", "AZ", "KG", "LA", "MM", "AF", "IQ",
    "SY", "SA", "YE", "SO", "SD", "LY", "EG", "DZ", "MA", "TN",
    "ML", "BF", "NE", "CM", "TD", "ET", "KE", "TZ", "CU", "NI",
    "VE", "MX", "CO", "TR", "QA", "KW", "OM", "JO", "BD", "LK",
)  # fmt: skip

_STARTED = time.perf_counter()


def log(message: str) -> None:
    """One line of progress on stderr, with the seconds since the process began."""
    print(f"[{time.perf_counter() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_count(text: str) -> int:
    """'100000', '100_000', '100k' or '1m'."""
    value = text.strip().lower().replace("_", "")
    scale = 1
    if value.endswith("k"):
        value, scale = value[:-1], 1_000
    elif value.endswith("m"):
        value, scale = value[:-1], 1_000_000
    count = int(float(value) * scale)
    if count < 1:
        raise ValueError(f"{text!r}: need a positive count")
    return count


def parse_sizes(text: str) -> list[int]:
    return sorted({parse_count(part) for part in text.split(",") if part.strip()})


def zipf_weights(count: int, skew: float) -> list[float]:
    """Popularity by rank: weight 1/rank**skew (skew 0 = uniform)."""
    return [1.0 / (rank**skew) for rank in range(1, count + 1)]


class Picker(Generic[T]):
    """Draws from a population by weight (cumulative weights and a bisection, no per-draw setup)."""

    def __init__(self, population: Sequence[T], weights: Sequence[float] | None = None) -> None:
        if not population:
            raise ValueError("nothing to pick from")
        self.population = list(population)
        self.cumulative = list(
            accumulate(weights if weights is not None else [1.0] * len(population))
        )
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random) -> T:
        index = bisect(self.cumulative, rng.random() * self.total)
        return self.population[min(index, len(self.population) - 1)]


# -- the store ---------------------------------------------------------------------------------


def settings_for(database_url: str | None, workdir: Path) -> Settings:
    """Settings for a benchmark store: the given URL, or a SQLite file in `workdir`."""
    url = database_url or f"sqlite:///{workdir / 'bench.db'}"
    return Settings(data_dir=workdir, database_url=url)


def dialect_of(settings: Settings) -> str:
    return make_url(settings.database_url).get_backend_name()


def _remove_sqlite(database: str | None) -> None:
    if database and database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)


def table_of(model: type[Any]) -> Table:
    """A model's Table (typed as one, for Core statements)."""
    return cast(Table, model.__table__)


async def _drop(settings: Settings) -> None:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        _remove_sqlite(url.database)
        return
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    except DBAPIError as exc:  # no such database, or no server: say which, not a traceback
        shown = url.render_as_string(hide_password=True)
        why = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise SystemExit(f"{shown}: {why} (create it first: createdb {url.database})") from None
    finally:
        await engine.dispose()


@asynccontextmanager
async def empty_store(settings: Settings, *, reset: bool) -> AsyncIterator[Store]:
    """The store, migrated and empty. With `reset` an existing database is emptied first (SQLite:
    the file is deleted; PostgreSQL: schema `public` is dropped); without it, a store that holds
    cases or subscribers is refused rather than touched."""
    if reset:
        await _drop(settings)
    async with open_store(settings, create=True) as store:
        async with store.transaction() as session:
            used = int(await session.scalar(select(func.count()).select_from(Case)) or 0)
            used += int(await session.scalar(select(func.count()).select_from(Subscriber)) or 0)
        if used:
            shown = make_url(settings.database_url).render_as_string(hide_password=True)
            raise SystemExit(f"{shown}: the store is not empty; pass --reset to empty it first")
        yield store


async def bulk_insert(store: Store, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write many rows at once: COPY on PostgreSQL, one executemany per 50,000 rows on SQLite.
    Values are database values (enum values as text, aware datetimes)."""
    if not rows:
        return
    if store.dialect == "postgresql":
        columns = list(rows[0])
        async with store.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.copy_records_to_table(
                table.name,
                records=[tuple(row[c] for c in columns) for row in rows],
                columns=columns,
            )
        return
    for start in range(0, len(rows), 50_000):
        async with store.transaction() as session:
            await session.execute(insert(table), list(rows[start : start + 50_000]))


async def fix_sequences(store: Store, tables: Sequence[str]) -> None:
    """PostgreSQL: move each table's id sequence past the explicit ids written by COPY."""
    if store.dialect != "postgresql":
        return
    async with store.transaction() as session:
        for name in tables:
            await session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                )
            )


async def settle(store: Store, *, sqlite_analyze: bool) -> None:
    """After a bulk load. PostgreSQL: VACUUM ANALYZE (what autovacuum does within a minute or so).
    SQLite: checkpoint the WAL, and ANALYZE only if asked (notifier itself never runs it)."""
    # On the driver's own connection, outside any transaction (VACUUM and a WAL checkpoint
    # cannot run in one, and SQLite's engine begins every SQLAlchemy transaction IMMEDIATE).
    async with store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if store.dialect == "postgresql":
            await driver.execute("VACUUM ANALYZE")
        else:
            if sqlite_analyze:
                await driver.execute("ANALYZE")
            await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# -- cases and updates ---------------------------------------------------------------------------

_FIRST = (
    "Bakhytzhan", "Makhset", "Yklas", "Sergei", "Aleksandr", "Li", "Wang", "Zhang", "Maryam",
    "Naser", "Dawit", "Ahmed", "Grace", "Leah", "Joseph", "Nguyen", "Tran", "Aung", "Samuel",
    "Hana", "Ali", "Yusuf", "Olga", "Dmitri", "Esther", "Pedro", "Rosa", "Mehmet", "Fatima", "John",
)  # fmt: skip
_LAST = (
    "Kashkumbayev", "Djabbarbergenov", "Kabduakasov", "Nikolaev", "Kharitonov", "Wei", "Yi",
    "Rongliang", "Naghdi", "Navard", "Tekle", "Osman", "Okafor", "Sharibu", "Bulus", "Van Hoa",
    "Thi Hong", "Min", "Gebre", "Haile", "Rahimi", "Karimov", "Petrova", "Volkov", "Daniel",
    "Lopez", "Alvarez", "Yilmaz", "Hussein", "Mensah",
)  # fmt: skip
_ROLES = ("pastor", "evangelist", "church elder", "deacon", "lay preacher", "")
_SUMMARY = (
    "{name} was detained after police raided a Sunday meeting in a private home.",
    "Officers confiscated Bibles, song books and a laptop, and questioned everyone present.",
    "The authorities accuse {name} of leading an unregistered religious community.",
    "Lawyers say the charges were brought only because of peaceful religious activity.",
    "Family members have been allowed one short visit since the arrest.",
    "Local believers report growing pressure, fines and surveillance of churches in {country}.",
    "The constitution guarantees freedom of belief, but new laws restrict worship outside "
    "registered buildings.",
    "Human rights groups have called for {name}'s immediate and unconditional release.",
    "The case has been postponed several times, and the trial date is still unknown.",
)
_PRAYER = (
    "Father, we lift up {name} to you today.",
    "Give strength, peace and courage in the long days of waiting.",
    "Comfort the family and protect the congregation that meets without its leader.",
    "Grant wisdom to the lawyers and soften the hearts of the judges.",
    "We pray for the leaders of {country}, that they would respect the freedom of every person.",
    "Let your light shine in the prison, and let {name} know that many are praying.",
)
_UPDATE_TITLES = (
    "Trial postponed again",
    "Moved to a prison far from home",
    "Sentenced to {years} years in a labour camp",
    "Appeal rejected",
    "Family allowed a short visit",
    "Released on probation",
    "Health worsening in detention",
    "New charges brought",
)
_UPDATE_BODY = (
    "The hearing on {day} was adjourned without explanation; the next date has not been set.",
    "Relatives say {name} is in good spirits and thanks everyone who is praying.",
    "The lawyer was not allowed to see the case file before the hearing.",
    "About forty supporters waited outside the court building.",
    "Prison officials have refused to pass on letters for several weeks.",
    "The family asks for prayer and for letters of encouragement.",
)


def _sentences(rng: random.Random, pool: Sequence[str], count: int, **values: str) -> str:
    return " ".join(s.format(**values) for s in rng.sample(list(pool), count))


def case_rows(
    count: int, countries: Sequence[str], rng: random.Random, now: datetime
) -> list[dict[str, Any]]:
    """`count` published cases with ids 1…count, case i in country i mod len(countries): text of
    the size real cases have (two summary paragraphs, actions, a prayer, a letter address)."""
    rows = []
    for case_id in range(1, count + 1):
        country = countries[(case_id - 1) % len(countries)]
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        address = (
            f"{name}\nPrison {rng.randint(1, 99)}/{rng.randint(1, 20)}\n"
            f"Central District\n{country}-{rng.randint(10000, 99999)}"
        )
        values = {"name": name, "country": country}
        rows.append(
            {
                "id": case_id,
                "slug": f"case-{case_id:05d}",
                "name": name,
                "spellings": [name.upper(), name.split()[-1]],
                "country": country,
                "role": rng.choice(_ROLES),
                "status": rng.choice(list(CaseStatus)).value,
                "summary": _sentences(rng, _SUMMARY, 3, **values)
                + "\n\n"
                + _sentences(rng, _SUMMARY, 3, **values),
                "letter_address": address,
                "letter_guidance": "Write a personal letter; do not mention any organisation.",
                "actions": [
                    {"kind": ActionKind.PRAY.value, "text": f"Pray for {name} and the family."},
                    {
                        "kind": ActionKind.WRITE.value,
                        "text": "Write a letter of encouragement.",
                        "address": address,
                    },
                    {"kind": ActionKind.PRAY.value, "text": "Pray for the country's leaders."},
                ],
                "prayer": _sentences(rng, _PRAYER, 5, **values),
                "sources": [{"name": "Open Doors"}, {"name": "Forum 18"}],
                "published": True,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


async def add_cases(
    store: Store, count: int, countries: Sequence[str], rng: random.Random, now: datetime
) -> dict[int, str]:
    """Write the cases; returns case id -> country."""
    rows = case_rows(count, countries, rng, now)
    async with store.transaction() as session:
        await session.execute(insert(table_of(Case)), rows)
    await fix_sequences(store, ["cases"])
    return {int(row["id"]): str(row["country"]) for row in rows}


@dataclass(frozen=True)
class UpdateSpec:
    case_id: int
    key: str
    entered_at: datetime
    urgent: bool = False


async def add_updates(
    store: Store, specs: Sequence[UpdateSpec], rng: random.Random
) -> list[tuple[Update, Case]]:
    """Write announced updates (store-assigned ids, in order); returns them with their cases,
    loaded and detached, ready to hand to `enqueue_alerts`."""
    async with store.transaction() as session:
        updates = []
        for spec in specs:
            values = {"name": "the prisoner", "day": f"{spec.entered_at:%d %B}"}
            update = Update(
                case_id=spec.case_id,
                key=spec.key,
                event_date=spec.entered_at.date() - timedelta(days=1),
                title=rng.choice(_UPDATE_TITLES).format(years=rng.randint(2, 9)),
                body=_sentences(rng, _UPDATE_BODY, 2, **values)
                + "\n\n"
                + _sentences(rng, _UPDATE_BODY, 2, **values),
                source_name="Forum 18",
                source_url=f"https://example.org/news/{spec.key}",
                severity=Severity.URGENT if spec.urgent else Severity.NORMAL,
                announce=True,
                entered_at=spec.entered_at,
            )
            session.add(update)
            updates.append(update)
        await session.flush()
        ids = [u.id for u in updates]
    async with store.transaction() as session:
        rows = await session.execute(
            select(Update, Case).join(Case).where(Update.id.in_(ids)).order_by(Update.id)
        )
        return [(u, c) for u, c in rows]


# -- mailing lists -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListSpec:
    slug: str
    cadence: Cadence
    channels: tuple[Channel, ...]
    countries: tuple[str, ...] = ()
    cases: tuple[int, ...] = ()
    everything: bool = False


async def add_lists(store: Store, specs: Sequence[ListSpec], now: datetime) -> list[int]:
    async with store.transaction() as session:
        lists = []
        for spec in specs:
            follows = [ListFollow(scope=Scope.ALL, target="all")] if spec.everything else []
            follows += [
                ListFollow(scope=Scope.COUNTRY, country=c, target=target_of(Scope.COUNTRY, c, None))
                for c in spec.countries
            ]
            follows += [
                ListFollow(scope=Scope.CASE, case_id=k, target=target_of(Scope.CASE, None, k))
                for k in spec.cases
            ]
            mailing_list = MailingList(
                slug=spec.slug,
                name=spec.slug.replace("-", " ").title(),
                cadence=spec.cadence,
                schedule="mon 07:00" if spec.cadence is Cadence.WEEKLY else "07:00",
                channels=[c.value for c in spec.channels],
                created_at=now,
                updated_at=now,
                follows=follows,
            )
            session.add(mailing_list)
            lists.append(mailing_list)
        await session.flush()
        return [m.id for m in lists]


# -- subscribers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mix:
    """How a synthetic population is made: what people follow, how often, where."""

    countries: Picker[str]
    cases: Picker[int]
    scope: Picker[Scope]
    cadence: Picker[Cadence]
    status: Picker[SubscriberStatus]
    follows: tuple[int, int] = (1, 3)
    #: Share of subscribers with an email address (the others are on Telegram only).
    email_share: float = 0.95
    #: Share of those with email who also gave a Telegram chat id…
    telegram_share: float = 0.25
    #: …and the share of their follows they take on Telegram.
    telegram_follow_share: float = 0.6
    locales: Picker[str] = field(default_factory=lambda: Picker(["en"]))
    zones: Picker[str] = field(default_factory=lambda: Picker(["UTC"]))
    days: Picker[int] = field(default_factory=lambda: Picker([0]))
    times: Picker[str] = field(default_factory=lambda: Picker(["07:00"]))
    #: Mailing lists people join, and the chance of joining each.
    list_ids: tuple[int, ...] = ()
    list_share: float = 0.0


@dataclass
class Population:
    """The ids handed out so far, so a population can grow in steps."""

    subscribers: int = 0
    subscriptions: int = 0
    members: int = 0


@dataclass
class Batch:
    subscribers: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)


def generate(
    rng: random.Random,
    mix: Mix,
    population: Population,
    *,
    created_at: datetime,
    subscriptions: int | None = None,
    subscribers: int | None = None,
    batch_size: int = 50_000,
) -> Iterator[Batch]:
    """Subscribers with 1–3 follows each, in batches, until the population holds `subscriptions`
    subscriptions (exactly) or `subscribers` subscribers."""
    batch = Batch()
    while True:
        if subscriptions is not None and population.subscriptions >= subscriptions:
            break
        if subscribers is not None and population.subscribers >= subscribers:
            break
        population.subscribers += 1
        sid = population.subscribers
        has_email = rng.random() < mix.email_share
        has_telegram = not has_email or rng.random() < mix.telegram_share
        batch.subscribers.append(
            {
                "id": sid,
                "email": f"s{sid}@example.org" if has_email else None,
                "name": f"Subscriber {sid}",
                "telegram_chat_id": 10_000_000_000 + sid if has_telegram else None,
                "locale": mix.locales(rng),
                "time_zone": mix.zones(rng),
                "digest_time": mix.times(rng),
                "digest_day": mix.days(rng),
                "token_version": 1,
                "status": mix.status(rng).value,
                "created_at": created_at,
                "updated_at": created_at,
            }
        )
        wanted = rng.randint(*mix.follows)
        if subscriptions is not None:
            wanted = min(wanted, subscriptions - population.subscriptions)
        seen: set[tuple[str, Channel]] = set()
        for _ in range(wanted * 4):
            if len(seen) == wanted:
                break
            scope = mix.scope(rng)
            country = mix.countries(rng) if scope is Scope.COUNTRY else None
            case_id = mix.cases(rng) if scope is Scope.CASE else None
            target = target_of(scope, country, case_id)
            if not has_email or (has_telegram and rng.random() < mix.telegram_follow_share):
                channel = Channel.TELEGRAM
            else:
                channel = Channel.EMAIL
            if (target, channel) in seen:
                continue
            seen.add((target, channel))
            population.subscriptions += 1
            batch.subscriptions.append(
                {
                    "id": population.subscriptions,
                    "subscriber_id": sid,
                    "scope": scope.value,
                    "country": country,
                    "case_id": case_id,
                    "target": target,
                    "cadence": mix.cadence(rng).value,
                    "channel": channel.value,
                    "created_at": created_at,
                }
            )
        for list_id in mix.list_ids:
            if rng.random() < mix.list_share:
                population.members += 1
                batch.members.append(
                    {
                        "list_id": list_id,
                        "subscriber_id": sid,
                        "source": MemberSource.IMPORT.value,
                        "joined_at": created_at,
                    }
                )
        if len(batch.subscribers) >= batch_size:
            yield batch
            batch = Batch()
    if batch.subscribers:
        yield batch


async def load(store: Store, batches: Iterator[Batch], population: Population) -> None:
    """Write generated batches (subscribers before what refers to them), logging progress."""
    for batch in batches:
        await bulk_insert(store, table_of(Subscriber), batch.subscribers)
        await bulk_insert(store, table_of(Subscription), batch.subscriptions)
        await bulk_insert(store, table_of(ListMember), batch.members)
        log(
            f"  {population.subscribers:,} subscribers, "
            f"{population.subscriptions:,} subscriptions, {population.members:,} list members"
        )
    await fix_sequences(store, ["subscribers", "subscriptions"])
