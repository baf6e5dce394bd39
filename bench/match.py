"""Benchmark: matching one update to its recipients, at growing numbers of subscriptions.

    python -m bench.match [--sizes 100000,1000000] [--updates 20] [--database-url URL]

For each size N (run in one invocation, smallest first, the population grown in place): N
subscriptions over 50 countries and 2,000 cases, held by ~N/2 subscribers (1–3 each), plus a few
mailing lists. Then K updates on random cases (the same cases at every size) are matched with
`notifier.match.enqueue_alerts`, each in its own transaction, as the watcher does. Reports
milliseconds per update (median, p90) and alerts written per update per size, the ratio of the
largest size's cost to the smallest's (per update and per alert), and the query plan of the
INSERT … SELECT that ran (EXPLAIN QUERY PLAN / EXPLAIN), with whether it used indexes only.

Progress goes to stderr; the last line on stdout is one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, func, select

from bench.data import (
    COUNTRIES,
    ListSpec,
    Mix,
    Picker,
    Population,
    UpdateSpec,
    add_cases,
    add_lists,
    add_updates,
    dialect_of,
    empty_store,
    generate,
    load,
    log,
    parse_count,
    parse_sizes,
    peak_rss_mb,
    settings_for,
    settle,
    zipf_weights,
)
from notifier.domain import Cadence, Channel, Scope, SubscriberStatus
from notifier.match import enqueue_alerts
from notifier.store.engine import Store
from notifier.store.models import Case, OutboxMessage, Subscription, Update

#: Tables whose full scan would make matching cost grow with the whole network.
BIG_TABLES = ("subscriptions", "subscribers", "list_members")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.match", description=__doc__.split("\n")[0])
    p.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    p.add_argument(
        "--sizes",
        default="100000,1000000",
        type=parse_sizes,
        help="subscription counts, comma-separated (default 100000,1000000)",
    )
    p.add_argument("--updates", default=20, type=parse_count, help="updates timed per size (20)")
    p.add_argument("--warmup", default=1, type=int, help="updates matched first, not timed (1)")
    p.add_argument("--countries", default=50, type=int)
    p.add_argument("--cases", default=2000, type=parse_count)
    p.add_argument(
        "--urgent-share",
        default=0.1,
        type=float,
        help="share of urgent updates, which reach digest readers too (0.1)",
    )
    p.add_argument(
        "--skew",
        default=1.0,
        type=float,
        help="popularity of countries and cases ~ 1/rank**skew; 0 = uniform (1.0)",
    )
    p.add_argument("--seed", default=1, type=int)
    p.add_argument(
        "--sqlite-analyze",
        action="store_true",
        help="run ANALYZE on SQLite after loading (notifier itself never does)",
    )
    p.add_argument(
        "--explain-analyze",
        action="store_true",
        help="PostgreSQL: also print EXPLAIN (ANALYZE, BUFFERS), rolled back",
    )
    p.add_argument(
        "--reset",
        action="store_true",
        help="empty the database first (drops schema public on PostgreSQL)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary SQLite directory")
    return p.parse_args(argv)  # fmt: skip


@dataclass
class SizeResult:
    subscriptions: int
    subscribers: int
    load_seconds: float
    ms: list[float] = field(default_factory=list)
    enqueue_ms: list[float] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)
    rerun_ms: float = 0.0
    rerun_alerts: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "ms_per_update_median": round(statistics.median(self.ms), 2),
            "ms_per_update_p90": round(p90(self.ms), 2),
            "alerts_per_update": round(statistics.fmean(self.alerts), 1),
            "ms_per_1000_alerts": round(self.ms_per_alert * 1000, 2),
            "enqueue_ms_median": round(statistics.median(self.enqueue_ms), 2),
            "rerun_ms": round(self.rerun_ms, 2),
            "rerun_alerts": self.rerun_alerts,
            "updates": len(self.ms),
            "subscriptions": self.subscriptions,
            "subscribers": self.subscribers,
            "load_seconds": round(self.load_seconds, 1),
        }

    @property
    def ms_per_alert(self) -> float:
        return sum(self.ms) / max(1, sum(self.alerts))


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def make_mix(args: argparse.Namespace, case_ids: list[int], list_ids: list[int]) -> Mix:
    countries = list(COUNTRIES[: args.countries])
    cases = list(case_ids)
    random.Random(args.seed).shuffle(cases)  # popularity is not tied to country order
    return Mix(
        countries=Picker(countries, zipf_weights(len(countries), args.skew)),
        cases=Picker(cases, zipf_weights(len(cases), args.skew)),
        scope=Picker([Scope.COUNTRY, Scope.CASE, Scope.ALL], [45, 50, 5]),
        cadence=Picker([Cadence.INSTANT, Cadence.DAILY, Cadence.WEEKLY], [80, 8, 12]),
        status=Picker(
            [
                SubscriberStatus.ACTIVE,
                SubscriberStatus.PENDING,
                SubscriberStatus.UNSUBSCRIBED,
                SubscriberStatus.BOUNCED,
            ],
            [94, 3, 2, 1],
        ),
        locales=Picker(["en", "de", "ru"], [80, 10, 10]),
        zones=Picker(["UTC", "Europe/Berlin", "America/New_York", "Asia/Almaty"]),
        days=Picker(list(range(7))),
        times=Picker(["07:00", "08:00", "18:30"]),
        list_ids=tuple(list_ids),
        list_share=0.01,
    )


def list_specs(countries: list[str], case_ids: list[int]) -> list[ListSpec]:
    """A few prayer chains: weekly ones (alerted only when urgent) and instant ones."""
    return [
        ListSpec("kazakhstan-prayer-chain", Cadence.WEEKLY, (Channel.EMAIL, Channel.TELEGRAM),
                 countries=(countries[0],)),
        ListSpec("central-asia-alerts", Cadence.INSTANT, (Channel.EMAIL,),
                 countries=tuple(countries[:3])),
        ListSpec("everything-weekly", Cadence.WEEKLY, (Channel.EMAIL,), everything=True),
        ListSpec("urgent-cases", Cadence.INSTANT, (Channel.TELEGRAM,),
                 cases=tuple(case_ids[:20])),
    ]  # fmt: skip


class Capture:
    """Records the INSERT INTO outbox statement (and its parameters) as sent to the driver."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine.sync_engine
        self.statement: str | None = None
        self.parameters: Any = None
        #: Only statements run while armed are recorded (the first one).
        self.armed = False

    def __enter__(self) -> Capture:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if not self.armed or self.statement is not None:
            return
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            self.statement, self.parameters = statement, parameters


async def measure(
    store: Store, args: argparse.Namespace, case_ids: list[int], result: SizeResult
) -> Capture:
    """Match `warmup + updates` new updates (the same cases at every size), one transaction each."""
    async with store.transaction() as session:
        await session.execute(delete(OutboxMessage))  # every size starts from an empty outbox
    rng = random.Random(args.seed + 1)
    now = datetime.now(UTC)
    specs = [
        UpdateSpec(
            case_id=rng.choice(case_ids),
            key=f"bench-{result.subscriptions}-{i}",
            entered_at=now - timedelta(minutes=5),
            urgent=rng.random() < args.urgent_share,
        )
        for i in range(args.warmup + args.updates)
    ]
    pairs = await add_updates(store, specs, rng)
    with Capture(store) as capture:
        for i, (update, case) in enumerate(pairs):
            timed = capture.armed = i >= args.warmup
            started = time.perf_counter()
            async with store.transaction() as session:
                begun = time.perf_counter()
                alerts = await enqueue_alerts(session, update, case, now=now)
                enqueued = time.perf_counter()
            done = time.perf_counter()
            if timed:
                result.ms.append((done - started) * 1000)
                result.enqueue_ms.append((enqueued - begun) * 1000)
                result.alerts.append(alerts)
            log(
                f"  update {update.id} case {case.id} ({case.country}"
                f"{', urgent' if update.severity.value == 'urgent' else ''}): {alerts:,} alerts "
                f"in {(done - started) * 1000:.1f} ms{'' if timed else ' (warm-up, not timed)'}"
            )
    # The same update again: nothing new may be written (the dedupe path's cost).
    update, case = pairs[-1]
    started = time.perf_counter()
    async with store.transaction() as session:
        result.rerun_alerts = await enqueue_alerts(session, update, case, now=now)
    result.rerun_ms = (time.perf_counter() - started) * 1000
    log(f"  the last update again: {result.rerun_alerts} alerts in {result.rerun_ms:.1f} ms")
    return capture


async def explain(store: Store, capture: Capture, *, analyze: bool) -> tuple[list[str], list[str]]:
    """The plan of the captured INSERT … SELECT (printed); returns (plan lines, full scans of
    big tables)."""
    if capture.statement is None:
        return [], []
    lines: list[str] = []
    async with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            result = await conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + capture.statement, capture.parameters
            )
            depth: dict[int, int] = {0: 0}
            rows: list[Any] = list(result.all())
            for row in rows:  # (id, parent, notused, detail)
                node, parent, detail = int(row[0]), int(row[1]), str(row[3])
                depth[node] = depth.get(parent, 0) + 1
                lines.append("  " * (depth[node] - 1) + detail)
            partial = set(
                (
                    await conn.exec_driver_sql(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%WHERE%'"
                    )
                ).scalars()
            )
            # SCAN <table> reads every row; SCAN … USING [COVERING] INDEX every index entry,
            # which is only a range when the index is partial (e.g. only scope = 'all').
            scans = []
            for line in lines:
                found = re.match(rf"\s*SCAN ({'|'.join(BIG_TABLES)})\b(.*)", line)
                index = re.search(r"USING (?:COVERING )?INDEX (\w+)", found[2]) if found else None
                if found and not (index and index[1] in partial):
                    scans.append(line.strip())
        else:
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
            trans = await conn.begin()
            result = await conn.exec_driver_sql(prefix + capture.statement, capture.parameters)
            lines = [str(r[0]) for r in result.all()]
            await trans.rollback()
            scans = [
                line.strip()
                for line in lines
                if re.search(rf"Seq Scan on ({'|'.join(BIG_TABLES)})\b", line)
            ]
    return lines, scans


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-match-"))
    settings = settings_for(args.database_url, workdir)
    db = dialect_of(settings)
    log(f"match benchmark on {db}, sizes {args.sizes}, {args.updates} updates per size")
    results: dict[int, SizeResult] = {}
    plan: list[str] = []
    scans: list[str] = []
    try:
        async with empty_store(settings, reset=args.reset) as store:
            rng = random.Random(args.seed)
            now = datetime.now(UTC)
            countries = list(COUNTRIES[: args.countries])
            case_country = await add_cases(store, args.cases, countries, rng, now)
            case_ids = sorted(case_country)
            list_ids = await add_lists(store, list_specs(countries, case_ids), now)
            log(f"{len(case_ids):,} cases over {len(countries)} countries, {len(list_ids)} lists")
            mix = make_mix(args, case_ids, list_ids)
            population = Population()
            for size in args.sizes:
                started = time.perf_counter()
                log(f"size {size:,}: loading subscriptions")
                created = now - timedelta(days=30)
                batches = generate(rng, mix, population, created_at=created, subscriptions=size)
                await load(store, batches, population)
                await settle(store, sqlite_analyze=args.sqlite_analyze)
                result = results[size] = SizeResult(
                    population.subscriptions, population.subscribers, time.perf_counter() - started
                )
                await describe(store)
                log(f"size {size:,}: loaded in {result.load_seconds:.1f} s; matching")
                capture = await measure(store, args, case_ids, result)
                plan, scans = await explain(store, capture, analyze=args.explain_analyze)
                log(f"size {size:,}: plan of the INSERT … SELECT that enqueue_alerts ran:")
                for line in plan:
                    log(f"    {line}")
                log(f"size {size:,}: {json.dumps(result.as_json())}")
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    small, large = results[min(results)], results[max(results)]
    out: dict[str, Any] = {
        "bench": "match",
        "db": db,
        "sizes": {str(size): r.as_json() for size, r in results.items()},
        "ratio_1m_vs_100k": {
            "sizes": [min(results), max(results)],
            "per_update": round(statistics.median(large.ms) / statistics.median(small.ms), 2),
            "per_alert": round(large.ms_per_alert / small.ms_per_alert, 2),
        },
        "uses_indexes": bool(plan) and not scans,
        "full_scans": scans,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    summary(out)
    return out


async def describe(store: Store) -> None:
    """What one update can reach, for the log."""
    async with store.transaction() as session:
        rows = await session.execute(
            select(Subscription.scope, func.count()).group_by(Subscription.scope)
        )
        by_scope = {scope: count for scope, count in rows}
        updates = int(await session.scalar(select(func.count()).select_from(Update)) or 0)
        cases = int(await session.scalar(select(func.count()).select_from(Case)) or 0)
    shown = ", ".join(f"{scope.value} {count:,}" for scope, count in sorted(by_scope.items()))
    log(f"  subscriptions by scope: {shown}; {cases:,} cases, {updates:,} updates so far")


def summary(out: dict[str, Any]) -> None:
    log("summary:")
    for size, r in out["sizes"].items():
        log(
            f"  {int(size):>9,} subscriptions: median {r['ms_per_update_median']:8.1f} ms, "
            f"p90 {r['ms_per_update_p90']:8.1f} ms per update, "
            f"{r['alerts_per_update']:>9,.0f} alerts per update, "
            f"{r['ms_per_1000_alerts']:.1f} ms per 1,000 alerts"
        )
    ratio = out["ratio_1m_vs_100k"]
    log(
        f"  cost at {ratio['sizes'][1]:,} vs {ratio['sizes'][0]:,}: "
        f"×{ratio['per_update']} per update, ×{ratio['per_alert']} per alert"
    )
    log(f"  indexes only: {out['uses_indexes']} {out['full_scans'] or ''}")
    log(f"  peak RSS {out['peak_rss_mb']} MiB (the whole process, data generation included)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out = asyncio.run(run(args))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
