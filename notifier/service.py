"""The service: one pass (`run --once`, for cron and tests) or the scheduler (`run`), which
watches, builds due digests and delivers until told to stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from notifier.app.sessions import prune_sessions
from notifier.config import Settings
from notifier.delivery import Deliverer, DeliverReport
from notifier.digests import (
    DigestReport,
    PersonalGroup,
    list_schedule,
    personal_groups,
    plan_digests,
)
from notifier.domain import Cadence, Channel
from notifier.domain.schedule import DAYS, Schedule
from notifier.links import Links
from notifier.render.messages import Renderer
from notifier.render.templates import check_templates
from notifier.senders import build_senders, email_sender
from notifier.store.engine import Store, open_store
from notifier.store.models import MailingList, utcnow
from notifier.watch import WatchReport, watch_once

log = logging.getLogger(__name__)


class _QuietSkips(logging.Filter):
    """APScheduler warns each time a job comes due while its last run is still going: every
    second of a long send. That is expected here (the outbox, not the scheduler, decides what
    goes), so the Service counts those runs and reports them with the work that ran long."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


_QUIET_SKIPS = _QuietSkips()


@dataclass
class Pipeline:
    """Everything a pass needs, built once: store, renderer (templates checked), deliverer."""

    store: Store
    settings: Settings
    renderer: Renderer
    deliverer: Deliverer


@asynccontextmanager
async def pipeline(settings: Settings, *, role: str = "run") -> AsyncIterator[Pipeline]:
    """Open the store and check every template before anything can be sent. `role` names the
    process among the workers `notifier status` lists."""
    renderer = Renderer(settings)
    check_templates(renderer.env)
    async with open_store(settings) as store:
        links = Links.from_settings(settings)
        deliverer = Deliverer(store, settings, build_senders(settings), renderer, links, role=role)
        try:
            yield Pipeline(store, settings, renderer, deliverer)
        finally:
            await deliverer.close()


@dataclass
class PassReport:
    watch: WatchReport = field(default_factory=WatchReport)
    digests: DigestReport = field(default_factory=DigestReport)
    delivery: DeliverReport = field(default_factory=DeliverReport)


async def run_once(p: Pipeline, *, now: datetime | None = None) -> PassReport:
    """Watch, build any due digests, deliver until nothing is due."""
    report = PassReport()
    report.watch = await watch_once(p.store, now=now)
    report.digests = await plan_digests(p.store, p.renderer, now=now or utcnow())
    report.delivery = await p.deliverer.drain(now=now)
    return report


def _cron(schedule: Schedule, zone: str) -> CronTrigger:
    return CronTrigger(
        day_of_week=DAYS[schedule.weekday] if schedule.weekday is not None else "*",
        hour=schedule.at.hour,
        minute=schedule.at.minute,
        timezone=zone,
    )


class Service:
    """The long-running service. Correctness lives in the outbox, not in the scheduler: every
    job is idempotent, and a catch-up pass at start builds digests missed while it was down."""

    #: How often cron jobs are rebuilt from the lists and subscribers in the store (s).
    RESYNC_SECONDS = 60

    def __init__(self, p: Pipeline, *, deliver_only: bool = False) -> None:
        self.p = p
        self.deliver_only = deliver_only
        self.stop = asyncio.Event()
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        logging.getLogger("apscheduler.scheduler").addFilter(_QUIET_SKIPS)  # once: a set
        self.scheduler.add_listener(self._count_skip, EVENT_JOB_MAX_INSTANCES)
        #: Runs skipped because the job's last run was still going, by job, since last said.
        self.skipped: Counter[str] = Counter()
        self._deliver_lock = asyncio.Lock()
        self._plan_lock = asyncio.Lock()
        self._cron_keys: set[str] = set()
        #: The scheduled runs under way: a stop waits for them instead of cancelling them.
        self._running: set[asyncio.Task[Any]] = set()

    def _count_skip(self, event: JobSubmissionEvent) -> None:
        self.skipped[event.job_id] += 1

    def _skipped_note(self) -> str:
        """'; runs skipped while busy: deliver 12, watch 3' (and the counts start again)."""
        if not self.skipped:
            return ""
        counts = ", ".join(f"{job} {n}" for job, n in sorted(self.skipped.items()))
        self.skipped.clear()
        return f"; runs skipped while busy: {counts}"

    def _schedule(
        self, job: Callable[[], Awaitable[None]], trigger: Any, *, job_id: str, **options: Any
    ) -> None:
        """Add a job whose runs are tracked, so that a stop can let them finish."""

        async def tracked() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job()
            finally:
                self._running.discard(task)

        self.scheduler.add_job(tracked, trigger, id=job_id, name=job_id, **options)

    async def _runs_finished(self) -> None:
        """Wait for the scheduled runs under way (a delivery ends after its batch: it sees the
        stop). A run submitted just before the pause starts on the loop's next turn."""
        await asyncio.sleep(0)
        while self._running:
            await asyncio.wait(set(self._running))

    async def _watch(self) -> None:
        report = await watch_once(self.p.store)
        if report.updates:
            log.info("watch: %d update(s), %d alert(s) queued", report.updates, report.alerts)
        if report.alerts:
            await self._deliver()  # alerts go now, not at the next delivery tick

    async def _deliver(self) -> None:
        # No new delivery once stopping: run() waits for the one under way (holding the lock)
        # and then returns, and a delivery begun after that would be cancelled mid-send. The
        # check and the acquire do not yield, so none can start between them.
        if self.stop.is_set():
            return
        if self._deliver_lock.locked():  # a delivery is under way (the one at start, say)
            self.skipped["deliver"] += 1
            return
        async with self._deliver_lock:
            report = await self.p.deliverer.drain(stop=self.stop)
        if report.claimed:
            log.info(
                "deliver: %d sent, %d retry, %d failed, %d suppressed%s",
                report.sent, report.retried, report.failed, report.suppressed,
                self._skipped_note(),
            )  # fmt: skip

    async def _digests(self) -> None:
        # One cron job per schedule: those due the same minute plan one after the other.
        async with self._plan_lock:
            report = await plan_digests(self.p.store, self.p.renderer)
        if report.messages:
            log.info(
                "digests: %d message(s) queued from %d body(ies)", report.messages, report.bodies
            )
            await self._deliver()

    async def _web(self, app: Any) -> None:
        """The web app; if it cannot listen, say so and go on: delivery matters more."""
        from notifier.web.app import WebUnavailable, serve

        try:
            await serve(app, self.p.settings, self.stop)
        except WebUnavailable as exc:
            log.error("%s; notifier goes on without it", exc)

    async def _bounces(self) -> None:
        """Read the bounce Maildir: addresses that failed for good get no more email."""
        from datetime import timedelta

        from notifier.bounces.process import SoftBounces, process_bounces
        from notifier.bounces.verp import Verp
        from notifier.links import load_secret

        settings = self.p.settings
        assert settings.bounce_maildir is not None
        assert settings.bounce_address is not None
        verp = Verp(settings.bounce_address, load_secret(settings))
        soft = SoftBounces(
            settings.bounce_soft_limit, timedelta(days=settings.bounce_soft_reset_days)
        )
        report = await process_bounces(self.p.store, settings.bounce_maildir, verp, soft=soft)
        if report.read:
            log.info(
                "bounces: read %d, %d address(es) bounced, %d temporary, %d not bounces, "
                "%d not ours",
                report.read, len(report.bounced), report.temporary, report.not_bounces,
                report.unrecognised,
            )  # fmt: skip
        for problem in report.problems:
            log.warning("bounces: %s", problem)

    async def _prune(self) -> None:
        from datetime import timedelta

        from notifier.store.outbox import prune

        days = self.p.settings.outbox_retention_days
        async with self.p.store.transaction() as session:
            count = await prune(session, before=utcnow() - timedelta(days=days))
        if count:
            log.info("outbox: deleted %d finished message(s) older than %d days", count, days)
        await prune_sessions(self.p.store, self.p.settings)
        maildir = self.p.settings.bounce_maildir
        if maildir is not None:
            from notifier.bounces.process import prune_reports

            keep = self.p.settings.bounce_retention_days
            before = utcnow() - timedelta(days=keep)
            count = await asyncio.to_thread(prune_reports, maildir, before)
            if count:
                log.info("bounces: deleted %d report(s) read, older than %d days", count, keep)

    async def _resync(self) -> None:
        """One cron job per list schedule and per personal schedule group."""
        async with self.p.store.transaction() as session:
            lists = list(
                await session.scalars(
                    select(MailingList).where(MailingList.cadence != Cadence.INSTANT)
                )
            )
            groups: list[PersonalGroup] = await personal_groups(session)
        wanted: dict[str, CronTrigger] = {}
        for m in lists:
            wanted[f"digest:list:{m.slug}:{m.schedule}:{m.time_zone}"] = _cron(
                list_schedule(m), m.time_zone
            )
        for g in groups:
            key = f"digest:personal:{g.cadence.value}:{g.day}:{g.at}:{g.zone}"
            wanted[key] = _cron(g.schedule, g.zone)
        for key in self._cron_keys - set(wanted):
            with suppress(Exception):
                self.scheduler.remove_job(key)
        for key, trigger in wanted.items():
            if key not in self._cron_keys:
                self._schedule(
                    self._digests, trigger, job_id=key, coalesce=True, misfire_grace_time=3600,
                    max_instances=1,
                )  # fmt: skip
        self._cron_keys = set(wanted)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.stop.set)
        interval = self.p.settings.watch_interval
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        # What a killed process left behind is due now: deliver it while catching up, not after.
        starting = asyncio.create_task(self._deliver(), name="deliver at start")
        if not self.deliver_only:
            await self._watch()
            await self._digests()  # catch up on periods missed while stopped
            await self._resync()
            self._schedule(self._watch, "interval", seconds=interval, job_id="watch", **common)
            self._schedule(
                self._resync, "interval", seconds=self.RESYNC_SECONDS, job_id="resync", **common
            )
            self._schedule(self._prune, "interval", hours=24, job_id="prune", **common)
            if self.p.settings.bounce_maildir is not None:
                self._schedule(self._bounces, "interval", seconds=60, job_id="bounces", **common)
        self._schedule(self._deliver, "interval", seconds=interval, job_id="deliver", **common)
        self.scheduler.start()
        web_task = None
        if not self.deliver_only:
            from notifier.web.app import create_app

            settings = self.p.settings
            app = create_app(
                settings,
                self.p.store,
                scheduler_alive=lambda: self.scheduler.running,
                email_sender=lambda: email_sender(settings),
            )
            web_task = asyncio.create_task(self._web(app), name="web")
        bot_task = None
        if not self.deliver_only and self.p.settings.telegram_bot_token is not None:
            # Only `run` polls for the bot's updates: a second poller on one token gets 409.
            from notifier.bot import run_bot

            # The bot's replies and delivery share one overall limit for the token.
            sender = self.p.deliverer.senders.get(Channel.TELEGRAM)
            pacer = getattr(sender, "pacer", None)
            bot_task = asyncio.create_task(
                run_bot(self.p.settings, self.p.store, self.stop, pacer=pacer),
                name="telegram-bot",
            )
        try:
            await self.stop.wait()
        finally:
            # No new runs; those under way finish. Shutting the scheduler down first would
            # cancel them: a send cut off mid-batch (its messages left claimed until the lease
            # ends) and a CancelledError traceback in the log of a clean stop.
            self.scheduler.pause()
            if bot_task is not None:
                await bot_task  # returns promptly once stop is set
            if web_task is not None:
                await web_task  # requests under way finish (an error was logged already)
            await self._runs_finished()
            self.scheduler.shutdown(wait=False)
            # A delivery begun outside the scheduler (the catch-up at start) finishes too.
            [outcome] = await asyncio.gather(starting, return_exceptions=True)
            if isinstance(outcome, Exception):
                log.error("the delivery at start failed: %r", outcome)
            async with self._deliver_lock:
                pass
