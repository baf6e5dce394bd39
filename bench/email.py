"""Benchmark: instant alerts by SMTP, end to end, against a bare aiosmtplib loop.

    python -m bench.email [--messages 20000] [--connections 4] [--database-url URL] [--profile]

A store holds the two sample Kazakhstan cases and N subscribers who follow Kazakhstan instantly
by email; one new update is added. A child process then times what the service does with it:
`watch_once` (match: N outbox rows) and `Deliverer.drain()` (claim → render → send → record),
with the pipeline built by `notifier.service.pipeline` and `smtp_url` pointing at an aiosmtpd
sink (`bench/smtp_sink.py`) in a process of its own. Afterwards the sink must have counted
exactly N messages and every outbox row must be `sent`.

The baseline, same run, same machine: a bare aiosmtplib loop sends N copies of one alert
rendered beforehand with notifier's own Renderer and EmailBuilder (so the same bytes as
notifier's messages) over the same number of connections (one `aiosmtplib.SMTP` each, its
share sent one `sendmail` after another, the connections concurrent with `asyncio.gather`), to
a fresh sink. `--rounds` alternates the order (notifier first, then baseline first, …); the
best of each is reported. `ratio` = notifier's rate ÷ the baseline's.

Progress goes to stderr; the last line on stdout is one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import aiosmtplib
from pydantic import SecretStr
from sqlalchemy import delete, func, select

from bench.data import (
    bulk_insert,
    dialect_of,
    empty_store,
    fix_sequences,
    log,
    parse_count,
    peak_rss_mb,
    settings_for,
    settle,
    table_of,
)
from bench.smtp_sink import start_sink, stop_sink
from notifier.channels.email_message import EmailBuilder
from notifier.channels.smtp import SmtpSender
from notifier.config import Settings
from notifier.domain import Cadence, Channel, Scope, Severity, SubscriberStatus, target_of
from notifier.domain.messages import EmailContent
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.links import Links
from notifier.render.messages import Personal, Renderer, shared_body
from notifier.service import pipeline
from notifier.store.cases import add_update, get_case, import_cases
from notifier.store.engine import open_store
from notifier.store.models import Case, OutboxMessage, Subscriber, Subscription, Update
from notifier.store.views import case_view, update_view
from notifier.watch import watch_once

ROOT = Path(__file__).resolve().parent.parent
#: The sample case the new update is about (Kazakhstan, like everyone's follow).
CASE_SLUG = "bakhytzhan-kashkumbayev"
COUNTRY = "KZ"

P = ParamSpec("P")
R = TypeVar("R")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.email", description=__doc__.split("\n")[0])
    p.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    p.add_argument(
        "--messages",
        default=20_000,
        type=parse_count,
        help="subscribers following Kazakhstan = alerts sent (20000)",
    )
    p.add_argument(
        "--connections",
        default=4,
        type=int,
        help="SMTP connections: notifier's smtp_pool_size and the baseline's (4)",
    )
    p.add_argument(
        "--rounds",
        default=2,
        type=int,
        help="notifier and baseline runs each, in alternating order; best of each (2)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, one more notifier run under cProfile (not counted); "
        "top entries in notifier/ and aiosmtplib/ to stderr",
    )
    p.add_argument("--profile-top", default=40, type=int, help="entries printed (40)")
    p.add_argument("--profile-out", type=Path, help="also keep the cProfile stats file here")
    p.add_argument(
        "--reset",
        action="store_true",
        help="empty the database first (drops schema public on PostgreSQL)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary SQLite directory")
    # The notifier run, in a child process (so its peak RSS is its own).
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--sink-port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--stats-file", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.connections < 1 or args.rounds < 1:
        p.error("--connections and --rounds must be at least 1")
    return args


# -- the store ---------------------------------------------------------------------------------


async def fill_store(settings: Settings, messages: int, *, reset: bool) -> None:
    """The sample cases (their history, not announced) and `messages` subscribers following
    Kazakhstan instantly by email; the watcher's cursor moved past the history."""
    async with empty_store(settings, reset=reset) as store:
        async with store.transaction() as session:
            await import_cases(session, load_case_files(sample_case_files()))
        now = datetime.now(UTC)
        subscribers = [
            {
                "id": sid,
                "email": f"s{sid}@example.org",
                "name": f"Subscriber {sid}",
                "telegram_chat_id": None,
                "locale": "en",
                "time_zone": "UTC",
                "digest_time": "07:00",
                "digest_day": 0,
                "token_version": 1,
                "status": SubscriberStatus.ACTIVE.value,
                "created_at": now,
                "updated_at": now,
            }
            for sid in range(1, messages + 1)
        ]
        follows = [
            {
                "id": sid,
                "subscriber_id": sid,
                "scope": Scope.COUNTRY.value,
                "country": COUNTRY,
                "case_id": None,
                "target": target_of(Scope.COUNTRY, COUNTRY, None),
                "cadence": Cadence.INSTANT.value,
                "channel": Channel.EMAIL.value,
                "created_at": now,
            }
            for sid in range(1, messages + 1)
        ]
        await bulk_insert(store, table_of(Subscriber), subscribers)
        await bulk_insert(store, table_of(Subscription), follows)
        await fix_sequences(store, ["subscribers", "subscriptions"])
        history = await watch_once(store)
        if history.alerts:
            raise RuntimeError(f"the sample history alerted {history.alerts} people")
        await settle(store, sqlite_analyze=False)
    log(f"store: 2 sample cases, {messages:,} subscribers following {COUNTRY} instantly by email")


async def new_update(settings: Settings, run: int) -> int:
    """An empty outbox and one new (announced) update on the sample case; returns its id."""
    async with open_store(settings) as store:
        async with store.transaction() as session:
            await session.execute(delete(OutboxMessage))
            case = await get_case(session, CASE_SLUG)
            update, created = await add_update(
                session,
                case,
                day=date.today(),
                title=f"Appeal court upholds the sentence (run {run})",
                body="The court upheld the suspended sentence. The family thanks everyone who "
                "prays and asks for letters of encouragement.",
                source_name="Forum 18",
                source_url="https://example.org/news/appeal",
                severity=Severity.NORMAL,
            )
            if not created:
                raise RuntimeError(f"update for run {run} exists already")
            update_id = update.id
        await settle(store, sqlite_analyze=False)
    return update_id


async def outbox_by_status(settings: Settings) -> dict[str, int]:
    async with open_store(settings, migrate=False) as store, store.read() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status.value: int(count) for status, count in rows}


async def sample_message(settings: Settings, update_id: int, subscriber_id: int) -> bytes:
    """One alert as notifier would send it to this subscriber, built with notifier's Renderer,
    Links and EmailBuilder the way `Deliverer` does (footer reason: a country follow)."""
    async with open_store(settings, migrate=False) as store, store.read() as session:
        row = (
            await session.execute(select(Update, Case).join(Case).where(Update.id == update_id))
        ).one()
        subscriber = await session.get(Subscriber, subscriber_id)
    update, case = row
    assert subscriber is not None
    assert subscriber.email is not None
    renderer = Renderer(settings)
    links = Links.from_settings(settings)
    body = renderer.alert(case_view(case), update_view(update), Channel.EMAIL, subscriber.locale)
    unsubscribe = links.unsubscribe_url(subscriber.id, subscriber.token_version)
    text_footer, html_footer = renderer.footers(
        Personal(
            name=subscriber.name,
            email=subscriber.email,
            reason=f"you follow news from {case_view(case).country_name}",
            unsubscribe_url=unsubscribe,
            preferences_url=links.preferences_url(subscriber.id, subscriber.token_version),
        )
    )
    now = datetime.now(UTC)
    domain = settings.mail_domain
    content = EmailContent(
        to_address=subscriber.email,
        to_name=subscriber.name,
        subject=body.subject,
        body=shared_body(body),
        text_footer=text_footer,
        html_footer=html_footer,
        message_id=f"<notifier.{subscriber_id}.{int(now.timestamp())}@{domain}>",
        list_id=f"notifier alerts <alerts.{domain}>",
        unsubscribe_url=unsubscribe,
    )
    return EmailBuilder(mail_from=settings.mail_from, reply_to=settings.reply_to).build(
        content, now=now
    )


# -- the notifier run (child process) -------------------------------------------------------


@dataclass
class Breakdown:
    """Seconds spent in each step of `Deliverer.deliver_batch`, summed over the batches. `claim`
    is the rest of a batch's time: the due check and the claim transaction (and whatever else
    `deliver_batch` does outside prepare, send and record); `claim_statement` is the UPDATE …
    RETURNING alone, `send_smtp` is send minus building the messages' bytes."""

    batches: int = 0
    batch: float = 0.0
    idle_check: float = 0.0  # the last deliver_batch, which found nothing due
    anything_due: float = 0.0
    claim: float = 0.0
    prepare: float = 0.0
    compose: float = 0.0  # inside prepare: building each Outgoing (footer, links, reason)
    send: float = 0.0
    build: float = 0.0  # inside send: the SMTP sender building each message's bytes
    record: float = 0.0
    #: Results written as they come back (Recorder's group writes, during sending): wall time
    #: and how many writes; part of `send`, not subtracted from anything.
    record_writes: float = 0.0
    record_write_count: int = 0
    save_health: float = 0.0

    def as_json(self, drain: float) -> dict[str, Any]:
        n = max(self.batches, 1)
        smtp = self.send - self.build
        claim = self.batch - self.prepare - self.send - self.record - self.save_health
        return {
            "batches": self.batches,
            "seconds": {
                "claim": round(claim, 3),
                "claim_statement": round(self.claim, 3),
                "anything_due": round(self.anything_due, 3),
                "prepare": round(self.prepare, 3),
                "prepare_load": round(self.prepare - self.compose, 3) if self.compose else None,
                "prepare_compose": round(self.compose, 3) if self.compose else None,
                "send": round(self.send, 3),
                "send_build": round(self.build, 3),
                "send_smtp": round(smtp, 3),
                "record": round(self.record, 3),
                "record_writes": round(self.record_writes, 3),
                "save_health": round(self.save_health, 4),
                "idle_check": round(self.idle_check, 4),
                "drain_other": round(drain - self.batch - self.idle_check, 4),
            },
            "ms_per_batch": {
                "claim": round(claim / n * 1000, 2),
                "prepare": round(self.prepare / n * 1000, 2),
                "send_build": round(self.build / n * 1000, 2),
                "send_smtp": round(smtp / n * 1000, 2),
                "record": round(self.record / n * 1000, 2),
            },
            "record_writes": self.record_write_count,
        }


def _timed_async(
    fn: Callable[P, Awaitable[R]], add: Callable[[float, R | None], None]
) -> Callable[P, Awaitable[R]]:
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        result: R | None = None
        try:
            result = await fn(*args, **kwargs)
            return result
        finally:
            add(time.perf_counter() - started, result)

    return wrapper


def _timed(fn: Callable[P, R], add: Callable[[float, Any], None]) -> Callable[P, R]:
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            add(time.perf_counter() - started, None)

    return wrapper


def instrument(deliverer: Any, sender: SmtpSender) -> tuple[Breakdown, list[str]]:
    """Timing wrappers around the steps of `deliver_batch`, set on these instances and on the
    module the deliverer calls them from, in this process only (notifier's code is unchanged).
    Returns the breakdown they fill and the names wrapped."""
    b = Breakdown()
    module: Any = sys.modules[type(deliverer).__module__]

    def on_batch(seconds: float, report: Any) -> None:
        if report is not None and report.claimed:
            b.batches += 1
            b.batch += seconds
        else:
            b.idle_check += seconds

    def adder(name: str) -> Callable[[float, Any], None]:
        def add(seconds: float, _result: Any) -> None:
            setattr(b, name, getattr(b, name) + seconds)

        return add

    def on_take(seconds: float, taken: Any) -> None:
        if taken is not None:
            b.batch += seconds
        else:
            b.idle_check += seconds

    def on_send_and_record(seconds: float, _report: Any) -> None:
        b.batches += 1
        b.batch += seconds

    if hasattr(deliverer, "_take") and hasattr(deliverer, "_send_and_record"):
        # The pipelined deliverer: batch k+1 is claimed and composed while batch k is sent,
        # so these steps overlap and their sum exceeds the drain's wall time.
        wrapped = ["Deliverer._take", "Deliverer._send_and_record"]
        setattr(deliverer, "_take", _timed_async(deliverer._take, on_take))  # noqa: B010
        setattr(  # noqa: B010
            deliverer,
            "_send_and_record",
            _timed_async(deliverer._send_and_record, on_send_and_record),
        )
    else:
        wrapped = ["Deliverer.deliver_batch"]
        setattr(deliverer, "deliver_batch", _timed_async(deliverer.deliver_batch, on_batch))  # noqa: B010
    wrapped += ["SmtpSender.send", "SmtpSender._prepare"]
    setattr(sender, "send", _timed_async(sender.send, adder("send")))  # noqa: B010
    setattr(sender, "_prepare", _timed(sender._prepare, adder("build")))  # noqa: B010
    # (bucket, owner, attribute): the first one present per bucket is wrapped. The module-level
    # names are looked up by `deliver_batch` at call time, so replacing them here is enough.
    hooks = [
        ("prepare", deliverer, "_prepare", "Deliverer._prepare"),
        ("prepare", getattr(deliverer, "composer", None), "compose", "Composer.compose"),
        ("record", deliverer, "_record", "Deliverer._record"),
        ("record", module, "record", "record"),
        ("record", sys.modules.get("notifier.delivery.recorder"), "record", "record"),
        ("save_health", deliverer, "_save_health", "Deliverer._save_health"),
        ("save_health", module, "save_health", "save_health"),
        ("claim", module, "claim", "claim"),
        ("anything_due", module, "anything_due", "anything_due"),
        ("compose", deliverer, "_outgoing", "Deliverer._outgoing"),
    ]
    quick = getattr(getattr(deliverer, "store", None), "quick", None)
    if quick is not None and hasattr(quick, "execute"):

        def on_write(seconds: float, _result: Any) -> None:
            b.record_writes += seconds
            b.record_write_count += 1

        setattr(quick, "execute", _timed_async(quick.execute, on_write))  # noqa: B010
        wrapped.append("QuickWriter.execute")
    done: set[str] = set()
    for bucket, owner, attribute, shown in hooks:
        if bucket in done or owner is None or not hasattr(owner, attribute):
            continue
        method = getattr(owner, attribute)
        timed = _timed_async if asyncio.iscoroutinefunction(method) else _timed
        setattr(owner, attribute, timed(method, adder(bucket)))
        done.add(bucket)
        wrapped.append(shown)
    return b, wrapped


def own_peak_rss_mb() -> float:
    """This process's peak RSS in MiB: VmHWM, which starts afresh at exec. (ru_maxrss does not:
    Linux keeps it across execve, so a child would report its parent's peak if larger.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def print_profile(stats_file: Path, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(str(stats_file), stream=out)
    stats.sort_stats("cumulative").print_stats(r"(/notifier/|/aiosmtplib/)", top)
    stats.sort_stats("tottime").print_stats(top // 2)
    for line in out.getvalue().splitlines():
        if line.strip():
            log(f"  profile | {line}")


async def notifier_run(args: argparse.Namespace) -> dict[str, Any]:
    """In the child: build the pipeline as the service does, then time watch → drain."""
    settings = Settings(
        data_dir=args.workdir,
        database_url=args.database_url,
        smtp_url=SecretStr(f"smtp://127.0.0.1:{args.sink_port}"),
        smtp_pool_size=args.connections,
    )
    async with pipeline(settings) as p:
        sender = p.deliverer.senders[Channel.EMAIL]
        assert isinstance(sender, SmtpSender)
        breakdown, wrapped = instrument(p.deliverer, sender)
        rss_before = own_peak_rss_mb()
        profiler = cProfile.Profile() if args.stats_file else None
        if profiler is not None:
            profiler.enable()
        started, cpu = time.perf_counter(), time.process_time()
        watched = await watch_once(p.store)
        matched = time.perf_counter()
        report = await p.deliverer.drain()
        done, cpu = time.perf_counter(), time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(args.stats_file))
        rss = own_peak_rss_mb()
    seconds, drain = done - started, done - matched
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "watch_s": matched - started,
        "drain_s": drain,
        "updates": watched.updates,
        "alerts": watched.alerts,
        "claimed": report.claimed,
        "sent": report.sent,
        "retried": report.retried,
        "failed": report.failed,
        "suppressed": report.suppressed,
        "errors": report.errors[:5],
        "deliver_batch": settings.deliver_batch,
        "rss_before_run_mb": round(rss_before, 1),
        "peak_rss_mb": round(rss, 1),
        "breakdown": breakdown.as_json(drain) | {"wrapped": wrapped},
    }


# -- the runs (parent) -------------------------------------------------------------------------


@dataclass
class Run:
    kind: str  # "notifier" or "baseline"
    seconds: float
    sink_messages: int
    sink_bytes: int
    #: CPU seconds of the sending process (all its threads) and of the sink, during the run.
    cpu_s: float
    sink_cpu_s: float | None
    detail: dict[str, Any] = field(default_factory=dict)

    def rate(self, messages: int) -> float:
        return messages / self.seconds


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def run_notifier(
    args: argparse.Namespace, settings: Settings, workdir: Path, *, stats_file: Path | None
) -> Run:
    """One notifier run in a child process, against a fresh sink."""
    sink, port = start_sink()
    sink_cpu = cpu_seconds(sink.pid)
    try:
        command = [
            sys.executable, "-m", "bench.email", "--child",
            "--workdir", str(workdir), "--database-url", settings.database_url,
            "--sink-port", str(port), "--connections", str(args.connections),
        ] + (["--stats-file", str(stats_file)] if stats_file else [])  # fmt: skip
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
        sink_cpu = _spent(sink_cpu, cpu_seconds(sink.pid))
    finally:
        messages, size = stop_sink(sink)
    if done.returncode != 0:
        raise RuntimeError(f"the notifier run exited with status {done.returncode}")
    detail = json.loads(done.stdout.strip().splitlines()[-1])
    return Run("notifier", detail["seconds"], messages, size, detail["cpu_s"], sink_cpu, detail)


async def bare_send(
    port: int, data: bytes, sender: str, recipients: list[str], connections: int
) -> tuple[float, float]:
    """The baseline: one aiosmtplib.SMTP per connection, each sending its share one message
    after another, the connections concurrently. Seconds from the first connect to the last
    reply (QUIT afterwards, untimed, as notifier's connections stay open), and the CPU seconds
    this process used meanwhile."""
    shares = [recipients[i::connections] for i in range(connections)]

    async def one(share: list[str]) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, timeout=60.0, use_tls=False, start_tls=False
        )
        await client.connect()
        for recipient in share:
            errors, _ = await client.sendmail(sender, [recipient], data)
            if errors:
                raise RuntimeError(f"refused: {errors}")
        return client

    started, cpu = time.perf_counter(), time.process_time()
    clients = await asyncio.gather(*(one(share) for share in shares if share))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    for client in clients:
        await client.quit()
    return seconds, cpu


def run_baseline(args: argparse.Namespace, data: bytes, sender: str) -> Run:
    sink, port = start_sink()
    sink_cpu = cpu_seconds(sink.pid)
    try:
        recipients = [f"s{sid}@example.org" for sid in range(1, args.messages + 1)]
        seconds, cpu = asyncio.run(bare_send(port, data, sender, recipients, args.connections))
        sink_cpu = _spent(sink_cpu, cpu_seconds(sink.pid))
    finally:
        messages, size = stop_sink(sink)
    return Run("baseline", seconds, messages, size, cpu, sink_cpu)


def check_notifier(run: Run, outbox: dict[str, int], messages: int) -> list[str]:
    problems = []
    if run.sink_messages != messages:
        problems.append(f"the sink counted {run.sink_messages:,} messages, not {messages:,}")
    if outbox != {"sent": messages}:
        problems.append(f"outbox by status {outbox}, not all {messages:,} sent")
    if run.detail["alerts"] != messages:
        problems.append(f"watch queued {run.detail['alerts']:,} alerts, not {messages:,}")
    return problems


def _cpu(run: Run) -> str:
    sink = "?" if run.sink_cpu_s is None else f"{run.sink_cpu_s:.1f}"
    return f"{run.cpu_s:.1f} s, sink {sink} s"


def describe_notifier(run: Run, messages: int) -> None:
    d, b = run.detail, run.detail["breakdown"]
    s = b["seconds"]
    split = ""
    if s.get("prepare_compose") is not None:
        split = f" (load {s['prepare_load']:.2f} s + compose {s['prepare_compose']:.2f} s)"
    log(
        f"  notifier: {run.seconds:.2f} s = {run.rate(messages):,.0f}/s "
        f"(watch {d['watch_s']:.2f} s, drain {d['drain_s']:.2f} s in {b['batches']} batches of "
        f"{d['deliver_batch']}); sink {run.sink_messages:,} messages; CPU {_cpu(run)}; "
        f"peak RSS {d['peak_rss_mb']} MiB"
    )
    log(
        f"    drain: claim {s['claim']:.2f} s, prepare {s['prepare']:.2f} s{split}, send "
        f"{s['send']:.2f} s (build {s['send_build']:.2f} s + SMTP {s['send_smtp']:.2f} s, "
        f"with {b['record_writes']} result writes taking {s['record_writes']:.2f} s), "
        f"record {s['record']:.2f} s"
    )


def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-email-"))
    settings = settings_for(args.database_url, workdir)
    db = dialect_of(settings)
    n = args.messages
    log(
        f"email benchmark on {db}: {n:,} alerts over {args.connections} SMTP connection(s), "
        f"{args.rounds} round(s)"
    )
    runs: list[Run] = []
    problems: list[str] = []
    message: bytes = b""
    profiled: Run | None = None
    try:
        asyncio.run(fill_store(settings, n, reset=args.reset))
        update_no = 0

        def notifier_once(stats_file: Path | None = None) -> Run:
            nonlocal update_no, message
            update_no += 1
            update_id = asyncio.run(new_update(settings, update_no))
            if not message:
                message = asyncio.run(sample_message(settings, update_id, max(1, n // 2)))
            result = run_notifier(args, settings, workdir, stats_file=stats_file)
            outbox = asyncio.run(outbox_by_status(settings))
            problems.extend(f"run {update_no}: {p}" for p in check_notifier(result, outbox, n))
            return result

        envelope_from = EmailBuilder(mail_from=settings.mail_from).envelope_from
        for round_no in range(1, args.rounds + 1):
            order = ("notifier", "baseline") if round_no % 2 else ("baseline", "notifier")
            log(f"round {round_no}: {order[0]} first")
            for kind in order:
                if kind == "notifier":
                    result = notifier_once()
                    describe_notifier(result, n)
                else:
                    if not message:  # the baseline's bytes: one alert, rendered untimed
                        update_no += 1
                        update_id = asyncio.run(new_update(settings, update_no))
                        message = asyncio.run(sample_message(settings, update_id, max(1, n // 2)))
                    result = run_baseline(args, message, envelope_from)
                    log(
                        f"  baseline: {result.seconds:.2f} s = {result.rate(n):,.0f}/s; "
                        f"sink {result.sink_messages:,} messages; CPU {_cpu(result)}"
                    )
                    if result.sink_messages != n:
                        problems.append(f"baseline: the sink counted {result.sink_messages:,}")
                runs.append(result)
        if args.profile:
            stats_file = args.profile_out or workdir / "notifier.prof"
            log("profile: one more notifier run under cProfile (not counted)")
            profiled = notifier_once(stats_file)
            describe_notifier(profiled, n)
            print_profile(stats_file, args.profile_top)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    notifier_runs = [r for r in runs if r.kind == "notifier"]
    baselines = [r for r in runs if r.kind == "baseline"]
    best = min(notifier_runs, key=lambda r: r.seconds)
    best_base = min(baselines, key=lambda r: r.seconds)
    rate, base_rate = best.rate(n), best_base.rate(n)
    out: dict[str, Any] = {
        "bench": "email",
        "db": db,
        "messages": n,
        "connections": args.connections,
        "rate_per_s": round(rate, 1),
        "baseline_per_s": round(base_rate, 1),
        "ratio": round(rate / base_rate, 3),
        "peak_rss_mb": max(r.detail["peak_rss_mb"] for r in notifier_runs),
        "rss_measured": "VmHWM of the child process that ran only the notifier part (imports, "
        "pipeline, watch, drain); max over the notifier runs",
        "message_bytes": len(message),
        "message_source": "baseline: one alert (subscriber N/2) rendered before timing with "
        "notifier's Renderer, Links and EmailBuilder, sent N times",
        "notifier_message_bytes_mean": round(best.sink_bytes / max(best.sink_messages, 1), 1),
        "best_of": f"{len(notifier_runs)} notifier and {len(baselines)} baseline runs, "
        "alternating order; each against a fresh sink process",
        "seconds": round(best.seconds, 3),
        "baseline_seconds": round(best_base.seconds, 3),
        "watch_s": round(best.detail["watch_s"], 3),
        "drain_s": round(best.detail["drain_s"], 3),
        "deliver_batch": best.detail["deliver_batch"],
        "breakdown": best.detail["breakdown"],
        "rss_before_run_mb": best.detail["rss_before_run_mb"],
        "cpu_ms_per_message": {
            "notifier_process": _ms(best.cpu_s, n),
            "baseline_client": _ms(best_base.cpu_s, n),
            "sink_in_notifier_run": _ms(best.sink_cpu_s, n),
            "sink_in_baseline_run": _ms(best_base.sink_cpu_s, n),
        },
        "runs": [
            {
                "kind": r.kind,
                "seconds": round(r.seconds, 3),
                "per_s": round(r.rate(n), 1),
                "cpu_s": round(r.cpu_s, 2),
                "sink_cpu_s": None if r.sink_cpu_s is None else round(r.sink_cpu_s, 2),
            }
            for r in runs
        ],
        "ok": not problems,
        "problems": problems,
    }
    if profiled is not None:
        out["profiled_seconds"] = round(profiled.seconds, 3)
    summary(out)
    return out, problems


def _ms(seconds: float | None, messages: int) -> float | None:
    return None if seconds is None else round(seconds / messages * 1000, 3)


def summary(out: dict[str, Any]) -> None:
    log("summary:")
    s = out["breakdown"]["seconds"]
    log(
        f"  notifier: {out['messages']:,} alerts in {out['seconds']:.2f} s = "
        f"{out['rate_per_s']:,.0f}/s (watch {out['watch_s']:.2f} s + drain {out['drain_s']:.2f} s:"
        f" claim {s['claim']:.2f}, prepare {s['prepare']:.2f}, build {s['send_build']:.2f}, "
        f"SMTP {s['send_smtp']:.2f} with {out['breakdown']['record_writes']} result writes of "
        f"{s['record_writes']:.2f}, record after sending {s['record']:.2f})"
    )
    log(
        f"  baseline: bare aiosmtplib, {out['connections']} connection(s): "
        f"{out['baseline_seconds']:.2f} s = {out['baseline_per_s']:,.0f}/s"
    )
    log(
        f"  ratio {out['ratio']} (goal ≥ 0.85, issue 10); peak RSS {out['peak_rss_mb']} MiB "
        f"(goal < 200; "
        f"{out['rss_before_run_mb']} MiB before the run, notifier child process)"
    )
    log(
        f"  message {out['message_bytes']:,} bytes (notifier's mean at the sink "
        f"{out['notifier_message_bytes_mean']:,}); best of {out['best_of']}"
    )
    cpu = out["cpu_ms_per_message"]
    log(
        f"  CPU per message: notifier process {cpu['notifier_process']} ms, bare client "
        f"{cpu['baseline_client']} ms; sink {cpu['sink_in_notifier_run']} / "
        f"{cpu['sink_in_baseline_run']} ms"
    )
    for problem in out["problems"]:
        log(f"  PROBLEM: {problem}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        if args.workdir is None or args.sink_port is None:
            raise SystemExit("--child needs --workdir and --sink-port")
        print(json.dumps(asyncio.run(notifier_run(args))), flush=True)
        return
    out, problems = run(args)
    print(json.dumps(out), flush=True)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
