"""Benchmark: the personal digest planner against rendering every digest from scratch.

    python -m bench.digest [--subscribers 100000] [--updates 50] [--sample 2000]
                           [--locales en,de,ru]

A separate process first fills a fresh store: N subscribers, each with 1–3 weekly follows among
30 countries and 200 cases, all in one personal schedule group (one time zone, digest day and
time), subscribed a week before the group's due instant, and 50 announced updates on published
cases entered during that week. With `--locales`, subscribers' locales are spread evenly over
the languages given (each digest is then in its reader's language: title, period, headings).
Then this process times
`notifier.digests.plan_personal_digests(store, renderer, now=due + 1 min)` — the whole planner,
wall time — and reads its peak RSS (ru_maxrss; the data was generated in the other process).

The baseline, measured in the same run afterwards: for a sample of S subscribers, each one's own
matched updates rendered from scratch with `Renderer.digest` (what the planner would render if it
shared nothing), giving a per-digest render cost and so a from-scratch rate. The sample's bodies
are also compared with the ones the planner stored for those subscribers (they must be equal).

Progress goes to stderr; the last line on stdout is one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bench.data import (
    COUNTRIES,
    Mix,
    Picker,
    Population,
    UpdateSpec,
    add_cases,
    add_updates,
    dialect_of,
    empty_store,
    generate,
    load,
    log,
    parse_count,
    peak_rss_mb,
    settings_for,
    settle,
    zipf_weights,
)
from notifier import locales
from notifier.config import Settings
from notifier.digests import TITLES, personal_schedule, plan_personal_digests
from notifier.digests.content import (
    Candidate,
    latest_update_id,
    load_candidates,
    sections_of,
    select_updates,
)
from notifier.domain import Cadence, Channel, MessageKind, Scope, SubscriberStatus
from notifier.domain.schedule import Schedule, last_due
from notifier.domain.views import CountrySection
from notifier.render.messages import RenderedBody, Renderer
from notifier.render.templates import period_label
from notifier.store.engine import Store, open_store
from notifier.store.models import Body, OutboxMessage, Subscriber, Subscription

ROOT = Path(__file__).resolve().parent.parent
#: The one personal schedule group everybody is in.
ZONE, DAY, AT = "Europe/Berlin", 0, "07:00"
CADENCE = Cadence.WEEKLY


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.digest", description=__doc__.split("\n")[0])
    p.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    p.add_argument("--subscribers", default=100_000, type=parse_count, help="(100000)")
    p.add_argument("--updates", default=50, type=parse_count, help="entered in the week (50)")
    p.add_argument("--countries", default=30, type=int, help="followed countries (30)")
    p.add_argument("--cases", default=200, type=parse_count, help="followed cases (200)")
    p.add_argument(
        "--sample",
        default=2000,
        type=parse_count,
        help="subscribers whose digests the baseline renders from scratch (2000)",
    )
    p.add_argument(
        "--skew",
        default=1.0,
        type=float,
        help="popularity of countries and cases ~ 1/rank**skew; 0 = uniform (1.0)",
    )
    p.add_argument(
        "--left",
        default=0.0,
        type=float,
        help="share of subscribers who unsubscribed their email (long-lived lists: often most) "
        "(0.0)",
    )
    p.add_argument(
        "--locales",
        default="en",
        type=_locales,
        help="subscribers' locales, spread evenly, comma-separated (en)",
    )
    p.add_argument("--seed", default=1, type=int)
    p.add_argument(
        "--reset",
        action="store_true",
        help="empty the database first (drops schema public on PostgreSQL)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary SQLite directory")
    p.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)  # fmt: skip


def _locales(value: str) -> list[str]:
    tags = [tag.strip() for tag in value.split(",") if tag.strip()]
    try:
        return [locales.language_tag(tag) for tag in tags] or ["en"]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def schedule() -> Schedule:
    return personal_schedule(CADENCE, DAY, AT)


# -- the data, in a process of its own ------------------------------------------------------------


async def generate_store(args: argparse.Namespace) -> dict[str, Any]:
    """Fill a fresh store; returns what the measuring process needs to know."""
    settings = settings_for(args.database_url, args.workdir)
    due = last_due(schedule(), ZONE, datetime.now(UTC))
    subscribed = due - timedelta(days=7)
    async with empty_store(settings, reset=args.reset) as store:
        rng = random.Random(args.seed)
        countries = list(COUNTRIES[: args.countries])
        case_country = await add_cases(store, args.cases, countries, rng, subscribed)
        case_ids = sorted(case_country)
        popular = list(case_ids)
        rng.shuffle(popular)
        mix = Mix(
            countries=Picker(countries, zipf_weights(len(countries), args.skew)),
            cases=Picker(popular, zipf_weights(len(popular), args.skew)),
            scope=Picker([Scope.COUNTRY, Scope.CASE], [50, 50]),
            cadence=Picker([CADENCE]),
            status=Picker(
                [SubscriberStatus.ACTIVE, SubscriberStatus.UNSUBSCRIBED],
                [1 - args.left, args.left],
            ),
            locales=Picker(args.locales),
            zones=Picker([ZONE]),
            days=Picker([DAY]),
            times=Picker([AT]),
        )
        population = Population()
        log(f"generating {args.subscribers:,} subscribers")
        batches = generate(
            rng, mix, population, created_at=subscribed, subscribers=args.subscribers
        )
        await load(store, batches, population)
        # Updates entered during the week, after the subscriptions began, in id order.
        week = (due - subscribed).total_seconds() - 7200
        moments = sorted(
            subscribed + timedelta(hours=1, seconds=rng.random() * week)
            for _ in range(args.updates)
        )
        specs = [
            UpdateSpec(rng.choice(case_ids), f"week-{i}", moment, urgent=rng.random() < 0.1)
            for i, moment in enumerate(moments)
        ]
        await add_updates(store, specs, rng)
        await settle(store, sqlite_analyze=False)
        log(
            f"{population.subscribers:,} subscribers, {population.subscriptions:,} weekly "
            f"follows, {len(specs)} updates on {len({s.case_id for s in specs})} cases"
        )
    return {
        "database_url": settings.database_url,
        "due": due.isoformat(),
        "subscribers": population.subscribers,
        "subscriptions": population.subscriptions,
        "updates": len(specs),
        "rss_mb": round(peak_rss_mb(), 1),
    }


def generate_in_subprocess(args: argparse.Namespace, database_url: str, workdir: Path) -> Any:
    command = [
        sys.executable, "-m", "bench.digest", "--generate-only",
        "--workdir", str(workdir), "--database-url", database_url,
        "--subscribers", str(args.subscribers), "--updates", str(args.updates),
        "--countries", str(args.countries), "--cases", str(args.cases),
        "--skew", str(args.skew), "--seed", str(args.seed), "--left", str(args.left),
        "--locales", ",".join(args.locales),
    ] + (["--reset"] if args.reset else [])  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the planner -------------------------------------------------------------------------------


class TimedRenderer(Renderer):
    """The project's renderer, counting the time spent in `digest`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.seconds = 0.0
        self.calls = 0

    def digest(
        self,
        *,
        title: str,
        intro: Sequence[str],
        sections: Sequence[CountrySection],
        period_label: str,
        channel: Channel,
        locale: str,
        template: str | None = None,
    ) -> RenderedBody:
        started = time.perf_counter()
        try:
            return super().digest(
                title=title,
                intro=intro,
                sections=sections,
                period_label=period_label,
                channel=channel,
                locale=locale,
                template=template,
            )
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


# -- the baseline ------------------------------------------------------------------------------


@dataclass
class _Reader:
    subscriber_id: int
    channel: Channel
    locale: str
    targets: set[str] = field(default_factory=set)
    since: datetime | None = None


@dataclass
class Baseline:
    sampled: int = 0
    rendered: int = 0
    seconds: list[float] = field(default_factory=list)
    mismatched: int = 0  # the planner stored a different body than the one rendered here
    missing: int = 0  # a digest with updates that the planner did not write
    extra: int = 0  # a digest the planner wrote where there was nothing to send

    @property
    def per_digest(self) -> float:
        return statistics.fmean(self.seconds)


def _label(due: datetime) -> str:
    """The period label the planner gives this group's digest (its previous due → this one)."""
    tz = ZoneInfo(ZONE)
    start = last_due(schedule(), ZONE, due - timedelta(seconds=1))
    return period_label(start.astimezone(tz).date(), due.astimezone(tz).date())


def _from_scratch(
    renderer: Renderer, reader: _Reader, chosen: Sequence[Candidate], due: datetime
) -> RenderedBody:
    """One reader's digest rendered on its own: title and period in their language too."""
    with locales.speaking(reader.locale):
        return renderer.digest(
            title=locales._(TITLES[CADENCE]),
            intro=(),
            sections=sections_of(chosen),
            period_label=_label(due),
            channel=reader.channel,
            locale=reader.locale,
        )


async def from_scratch(
    store: Store, settings: Settings, due: datetime, sample: list[int]
) -> Baseline:
    """Render each sampled subscriber's digest on its own, timing each `Renderer.digest`."""
    result = Baseline(sampled=len(sample))
    readers: dict[tuple[int, Channel], _Reader] = {}
    stored: dict[tuple[int, str], str] = {}
    async with store.transaction() as session:
        for start in range(0, len(sample), 500):
            chunk = sample[start : start + 500]
            rows = await session.execute(
                select(
                    Subscriber.id,
                    Subscriber.locale,
                    Subscriber.email,
                    Subscriber.telegram_chat_id,
                    Subscription.channel,
                    Subscription.target,
                    Subscription.created_at,
                )
                .join(Subscriber)
                .where(
                    Subscriber.id.in_(chunk),
                    Subscription.cadence == CADENCE,
                    Subscriber.status == SubscriberStatus.ACTIVE,
                )
            )
            for sid, locale, email, chat, channel, target, created in rows:
                if (channel is Channel.EMAIL and email is None) or (
                    channel is Channel.TELEGRAM and chat is None
                ):
                    continue
                reader = readers.setdefault((sid, channel), _Reader(sid, channel, locale))
                reader.targets.add(target)
                reader.since = created if reader.since is None else min(reader.since, created)
            bodies = await session.execute(
                select(OutboxMessage.subscriber_id, OutboxMessage.channel, Body.digest)
                .join(Body, Body.id == OutboxMessage.body_id)
                .where(
                    OutboxMessage.kind == MessageKind.DIGEST,
                    OutboxMessage.subscriber_id.in_(chunk),
                )
            )
            stored.update({(int(sid or 0), ch.value): digest for sid, ch, digest in bodies})
        since = min((r.since for r in readers.values() if r.since), default=None)
        upper = await latest_update_id(session)
        candidates = await load_candidates(session, upper=upper, after_id=None, entered_since=since)
    jobs = []
    for reader in readers.values():
        chosen = select_updates(
            candidates, frozenset(reader.targets), after_id=None, entered_since=reader.since
        )
        key = (reader.subscriber_id, reader.channel.value)
        if chosen:
            jobs.append((reader, chosen))
        elif key in stored:
            result.extra += 1
    renderer = Renderer(settings)
    if jobs:  # compile the templates before timing, as the planner's first body did
        reader, chosen = jobs[0]
        _from_scratch(renderer, reader, chosen, due)
    for reader, chosen in jobs:
        started = time.perf_counter()
        body = _from_scratch(renderer, reader, chosen, due)
        result.seconds.append(time.perf_counter() - started)
        result.rendered += 1
        planned = stored.get((reader.subscriber_id, reader.channel.value))
        if planned is None:
            result.missing += 1
        elif planned != body.digest:
            result.mismatched += 1
    return result


# -- the run -----------------------------------------------------------------------------------


async def measure(args: argparse.Namespace, meta: dict[str, Any], workdir: Path) -> dict[str, Any]:
    settings = Settings(data_dir=workdir, database_url=meta["database_url"])
    due = datetime.fromisoformat(meta["due"])
    now = due + timedelta(minutes=1)
    rss_start = peak_rss_mb()
    async with open_store(settings) as store:
        renderer = TimedRenderer(settings)
        log(f"planning personal digests due {due:%Y-%m-%d %H:%M} UTC (now = due + 1 min)")
        started = time.perf_counter()
        report = await plan_personal_digests(store, renderer, now=now)
        seconds = time.perf_counter() - started
        rss_planner = peak_rss_mb()
        async with store.transaction() as session:
            written = int(
                await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        OutboxMessage.kind == MessageKind.DIGEST, OutboxMessage.body_id.isnot(None)
                    )
                )
                or 0
            )
            stored_bodies = int(await session.scalar(select(func.count()).select_from(Body)) or 0)
        log(
            f"planner: {seconds:.1f} s; {written:,} digests written ({report.empty:,} empty, "
            f"nothing sent), {report.bodies:,} bodies rendered in {renderer.seconds:.1f} s, "
            f"{stored_bodies:,} stored; peak RSS {rss_planner:.0f} MiB"
        )
        sample = sorted(random.Random(args.seed + 2).sample(
            range(1, meta["subscribers"] + 1), min(args.sample, meta["subscribers"])
        ))  # fmt: skip
        log(f"baseline: rendering the digests of {len(sample):,} sampled subscribers from scratch")
        baseline = await from_scratch(store, settings, due, sample)
    per_digest = baseline.per_digest
    digests_per_s = written / seconds
    baseline_per_s = 1 / per_digest
    # A planner that rendered every digest: its other work, plus one render per digest.
    full_estimate = (seconds - renderer.seconds) + written * per_digest
    log(
        f"baseline: {baseline.rendered:,} digests, {per_digest * 1000:.2f} ms each "
        f"(median {statistics.median(baseline.seconds) * 1000:.2f} ms); "
        f"bodies differing from the planner's: {baseline.mismatched}, "
        f"missing: {baseline.missing}, extra: {baseline.extra}"
    )
    out = {
        "bench": "digest",
        "db": dialect_of(settings),
        "locales": args.locales,
        "subscribers": meta["subscribers"],
        "updates": meta["updates"],
        "seconds": round(seconds, 2),
        "digests_per_s": round(digests_per_s, 1),
        "bodies_rendered": report.bodies,
        "baseline_per_s": round(baseline_per_s, 1),
        "ratio": round(digests_per_s / baseline_per_s, 2),
        "peak_rss_mb": round(rss_planner, 1),
        "rss_measured": "planner process; data generated in a separate subprocess",
        "rss_before_planner_mb": round(rss_start, 1),
        "generate_rss_mb": meta["rss_mb"],
        "digests": written,
        "empty": report.empty,
        "subscriptions": meta["subscriptions"],
        "planner_render_seconds": round(renderer.seconds, 2),
        "baseline_ms_per_digest": round(per_digest * 1000, 3),
        "baseline_sampled": baseline.sampled,
        "baseline_rendered": baseline.rendered,
        "from_scratch_planner_estimate_s": round(full_estimate, 1),
        "ratio_vs_from_scratch_planner": round(full_estimate / seconds, 2),
        "sample_bodies_mismatched": baseline.mismatched,
        "sample_digests_missing": baseline.missing,
        "sample_digests_extra": baseline.extra,
    }
    summary(out)
    return out


def summary(out: dict[str, Any]) -> None:
    log("summary:")
    log(
        f"  {out['digests']:,} digests for {out['subscribers']:,} subscribers in "
        f"{out['seconds']:.1f} s = {out['digests_per_s']:,.0f}/s; "
        f"{out['bodies_rendered']:,} distinct bodies rendered ({out['planner_render_seconds']} s)"
    )
    log(
        f"  from scratch: {out['baseline_ms_per_digest']} ms per digest = "
        f"{out['baseline_per_s']:,.0f}/s → ratio {out['ratio']} "
        f"(vs a planner rendering every digest, est. {out['from_scratch_planner_estimate_s']} s: "
        f"×{out['ratio_vs_from_scratch_planner']})"
    )
    log(
        f"  peak RSS of the planner process {out['peak_rss_mb']} MiB "
        f"({out['rss_before_planner_mb']} MiB before it ran; data generated in a subprocess)"
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-digest-"))
    try:
        url = settings_for(args.database_url, workdir).database_url
        log(f"digest benchmark: {args.subscribers:,} subscribers, {args.updates} updates")
        meta = generate_in_subprocess(args, url, workdir)
        return await measure(args, meta, workdir)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.generate_only:
        if args.workdir is None:
            raise SystemExit("--generate-only needs --workdir")
        out = asyncio.run(generate_store(args))
    else:
        out = asyncio.run(run(args))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
