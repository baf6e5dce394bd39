"""The Deliverer: owns the senders and the render caches for the life of a process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.channels.base import Sender
from notifier.config import Settings
from notifier.delivery.compose import Composer
from notifier.delivery.heartbeat import Heartbeat
from notifier.delivery.record import DeliverReport, save_health
from notifier.delivery.recorder import Recorder
from notifier.domain import Channel
from notifier.domain.messages import Outcome, Outgoing, Result
from notifier.faults import checkpoint
from notifier.links import Links
from notifier.render.messages import Renderer
from notifier.store.engine import Store
from notifier.store.models import ChannelLease, utcnow
from notifier.store.outbox import Claimed, anything_due, claim, release
from notifier.store.upsert import insert_for
from notifier.store.workers import worker_name

log = logging.getLogger(__name__)

#: How long a channel lease lasts without renewal (a sender that died frees it after this).
LEASE_SECONDS = 30


@dataclass
class _Taken:
    """A claimed batch of one channel, composed and ready to send."""

    now: datetime
    channel: Channel
    claimed: list[Claimed]
    outgoing: list[Outgoing]
    suppressed: dict[int, str]
    failed: list[Result]
    worker: int
    fixed_clock: bool = False


def _sum(reports: list[DeliverReport | BaseException]) -> DeliverReport:
    """The lanes' reports added up; the first lane's error raised once every lane is done."""
    total = DeliverReport()
    for report in reports:
        if isinstance(report, BaseException):
            raise report
        total.add(report)
    return total


class Deliverer:
    """Each channel is a lane of its own: a slow one (Telegram, 30 a second) never holds back
    another (a confirmation email), and each claims batches of its own size."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        senders: Mapping[Channel, Sender],
        renderer: Renderer,
        links: Links,
        *,
        role: str = "run",
    ) -> None:
        self.store = store
        self.settings = settings
        self.senders = dict(senders)
        self.composer = Composer(settings, renderer, links)
        self.heartbeat = Heartbeat(store, settings, role=role)
        # What each sender last reported; a healthy sender that never failed writes nothing.
        self._health: dict[str, tuple[float | None, str, dict[str, str]]] = {
            sender.name: (None, "", {}) for sender in senders.values()
        }

    def batch_size(self, channel: Channel) -> int:
        wanted = self.senders[channel].limits.batch_size
        limit = self.settings.deliver_batch
        return limit if wanted is None else min(wanted, limit)

    async def _may_send(self, channel: Channel, now: datetime) -> bool:
        """False while the channel pauses (its server is away: nothing is claimed, so nothing
        is tried in vain), and for an exclusive channel (Telegram) whose lease another process
        holds."""
        sender = self.senders[channel]
        paused = sender.state.paused_until
        if paused is not None and paused > time.time():
            return False
        lease = getattr(sender, "lease", None)
        if getattr(sender, "exclusive", False) and lease:
            return await self._lease(lease, now)
        return True

    async def _lease(self, name: str, now: datetime) -> bool:
        """Take or renew the lease; True if this process holds it. Held in this worker's name,
        so a worker found dead frees it at once."""
        holder = worker_name(await self.heartbeat.worker_id())
        until = now + timedelta(seconds=LEASE_SECONDS)
        async with self.store.transaction() as session:
            stmt = insert_for(session, ChannelLease)
            await session.execute(
                stmt.values(name=name, holder=holder, until=until).on_conflict_do_update(
                    index_elements=["name"],
                    set_={"holder": holder, "until": until},
                    where=or_(ChannelLease.holder == holder, ChannelLease.until < now),
                )
            )
            held = await session.scalar(
                select(ChannelLease.holder).where(ChannelLease.name == name)
            )
        return held == holder

    async def _keep_lease(self, taken: _Taken, done: asyncio.Event) -> None:
        """Renew an exclusive channel's lease while its batch is sending: a batch can take
        longer than the lease (one chat's messages a second apart, a long 429), and another
        process must not start sending for the same bot meanwhile. It stops when `done` is
        set, between renewals: a task cancelled inside a transaction can leave its SQLite
        connection holding the write lock."""
        sender = self.senders[taken.channel]
        lease = getattr(sender, "lease", None)
        if not (getattr(sender, "exclusive", False) and lease):
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), LEASE_SECONDS / 3)
            if done.is_set():
                return
            # On the batch's clock (tests fix it), moved on by the time spent sending.
            moment = taken.now + timedelta(seconds=loop.time() - started)
            try:
                await self._lease(lease, moment)
            except Exception:  # the store is away for a moment: try again next round
                log.exception("could not renew the %s lease", taken.channel.value)

    async def _take(self, channel: Channel, now: datetime | None) -> _Taken | None:
        """Claim a batch of the channel's due messages and compose them (None: nothing due)."""
        moment = now or utcnow()
        channels = [channel.value]
        async with self.store.read() as session:
            if not await anything_due(session, now=moment, channels=channels):
                return None  # idle: no write lock taken
        if not await self._may_send(channel, moment):
            return None
        worker = await self.heartbeat.worker_id()
        async with self.store.transaction() as session:
            claimed = await claim(
                session,
                now=moment,
                lease=timedelta(seconds=self.settings.lease_seconds),
                limit=self.batch_size(channel),
                channels=channels,
                worker=worker,
            )
        checkpoint("deliver.after_claim")
        if not claimed:
            return None
        composed = await self.composer.compose(self.store, [c.id for c in claimed])
        messages = [message for _, message in composed.outgoing]
        failed = [Result(i, Outcome.PERMANENT, why) for i, why in composed.failed.items()]
        return _Taken(
            moment, channel, claimed, messages, composed.suppressed, failed, worker, now is not None
        )

    async def _send_and_record(self, taken: _Taken) -> DeliverReport:
        """Send the batch; each result is recorded as it comes back (Recorder), so a crash
        sends again only what was on the wire."""
        report = DeliverReport(claimed=len(taken.claimed))

        async def finish(session: AsyncSession) -> None:
            changed = self._changed_health()
            if changed:
                await save_health(session, changed, taken.now)

        recorder = Recorder(
            self.store,
            self.settings,
            claimed={c.id: c for c in taken.claimed},
            suppressed=taken.suppressed,
            report=report,
            worker=taken.worker,
            # A clock fixed by the caller (tests) is kept; otherwise each write reads it.
            now=taken.now if taken.fixed_clock else None,
            finish=finish,
        )
        for result in taken.failed:
            recorder(result)
        if taken.outgoing:
            sent = asyncio.Event()
            keeper = asyncio.create_task(self._keep_lease(taken, sent))
            try:
                returned = await self.senders[taken.channel].send(taken.outgoing, recorder)
                for result in returned:  # a sender that only returned its results
                    recorder(result)
            except Exception as exc:  # a sender bug must not lose the batch: retry it
                log.exception("channel %s failed", taken.channel.value)
                for outbox_id in recorder.unanswered():
                    recorder(Result(outbox_id, Outcome.TEMPORARY, repr(exc)))
            finally:
                sent.set()
                await keeper
        checkpoint("deliver.after_send")
        try:
            await recorder.close()
        except Exception:
            # The store went away mid-batch: what was not recorded is given back if it can
            # be (else this worker's heartbeat stops and another takes it back).
            log.exception("results of a %s batch could not be recorded", taken.channel.value)
            with contextlib.suppress(Exception):
                async with self.store.transaction() as session:
                    await release(session, list(recorder.claimed), worker=taken.worker)
            raise
        checkpoint("deliver.after_record")
        return report

    async def deliver_batch(self, *, now: datetime | None = None) -> DeliverReport:
        """Claim one batch per channel, send them side by side, record them. Returns what
        happened (claimed == 0: idle)."""

        async def one(channel: Channel) -> DeliverReport:
            taken = await self._take(channel, now)
            return DeliverReport() if taken is None else await self._send_and_record(taken)

        if not await self._anything_due(now):
            return DeliverReport()
        return _sum(await asyncio.gather(*map(one, self.senders), return_exceptions=True))

    async def _anything_due(self, now: datetime | None) -> bool:
        """One indexed read, however many channels: an idle poll takes no lock. (The first
        call registers this worker, which takes back what dead workers held.)"""
        await self.heartbeat.worker_id()
        async with self.store.read() as session:
            return await anything_due(session, now=now or utcnow())

    async def drain(
        self, *, stop: asyncio.Event | None = None, now: datetime | None = None
    ) -> DeliverReport:
        """Deliver until nothing is due (or `stop` is set), every channel's lane side by side.
        `now` fixes the clock (tests); by default each batch reads the time."""
        if not await self._anything_due(now):
            return DeliverReport()
        lanes = (self._lane(channel, stop, now) for channel in self.senders)
        return _sum(await asyncio.gather(*lanes, return_exceptions=True))

    async def _lane(
        self, channel: Channel, stop: asyncio.Event | None, now: datetime | None
    ) -> DeliverReport:
        """One channel until nothing of it is due. Pipelined: the next batch is claimed and
        composed while the current one is on the wire, so connections stay busy."""
        total = DeliverReport()
        taken = await self._take(channel, now)
        while taken is not None:
            sending = asyncio.create_task(self._send_and_record(taken))
            try:
                stopping = stop is not None and stop.is_set()
                following = None if stopping else await self._take(channel, now)
            finally:
                total.add(await sending)
            taken = following
        return total

    def _changed_health(self) -> list[Sender]:
        changed = []
        for sender in self.senders.values():
            state = sender.state
            snapshot = (state.paused_until, state.note, dict(state.extra))
            if self._health.get(sender.name) != snapshot:
                self._health[sender.name] = snapshot
                changed.append(sender)
        return changed

    async def close(self) -> None:
        for sender in self.senders.values():
            await sender.close()
        await self.heartbeat.close()
