"""The Deliverer: owns the senders and the render caches for the life of a process."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from notifier.channels.base import Outcome, Outgoing, Result, Sender
from notifier.config import Settings
from notifier.delivery.compose import Composer
from notifier.delivery.record import DeliverReport, record, save_health
from notifier.faults import checkpoint
from notifier.links import Links
from notifier.outbox import Claimed, anything_due, claim
from notifier.render.messages import Renderer
from notifier.store.engine import Store
from notifier.store.models import Channel, ChannelLease, utcnow
from notifier.store.upsert import insert_for

log = logging.getLogger(__name__)

#: How long a channel lease lasts without renewal (a sender that died frees it after this).
LEASE_SECONDS = 30


@dataclass
class _Taken:
    """A claimed batch, composed and ready to send."""

    now: datetime
    claimed: list[Claimed]
    outgoing: list[tuple[Channel, Outgoing]]
    suppressed: dict[int, str]


class Deliverer:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        senders: Mapping[Channel, Sender],
        renderer: Renderer,
        links: Links,
    ) -> None:
        self.store = store
        self.settings = settings
        self.senders = dict(senders)
        self.composer = Composer(settings, renderer, links)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        # What each sender last reported; a healthy sender that never failed writes nothing.
        self._health: dict[str, tuple[float | None, str]] = {
            sender.name: (None, "") for sender in senders.values()
        }

    async def _channels_we_may_send(self, now: datetime) -> list[str]:
        """Every channel, except exclusive ones (Telegram) whose lease another process holds."""
        allowed = []
        for channel, sender in self.senders.items():
            lease = getattr(sender, "lease", None)
            if getattr(sender, "exclusive", False) and lease and not await self._lease(lease, now):
                continue
            allowed.append(channel.value)
        return allowed

    async def _lease(self, name: str, now: datetime) -> bool:
        """Take or renew the lease; True if this process holds it."""
        until = now + timedelta(seconds=LEASE_SECONDS)
        async with self.store.transaction() as session:
            stmt = insert_for(session, ChannelLease.__table__)  # type: ignore[arg-type]
            await session.execute(
                stmt.values(name=name, holder=self.holder, until=until).on_conflict_do_update(
                    index_elements=["name"],
                    set_={"holder": self.holder, "until": until},
                    where=or_(ChannelLease.holder == self.holder, ChannelLease.until < now),
                )
            )
            holder = await session.scalar(
                select(ChannelLease.holder).where(ChannelLease.name == name)
            )
        return holder == self.holder

    async def _take(self, now: datetime | None) -> _Taken | None:
        """Claim a batch of due messages and compose them (None: nothing due)."""
        moment = now or utcnow()
        async with self.store.read() as session:
            if not await anything_due(session, now=moment):
                return None  # idle: no write lock taken
        channels = await self._channels_we_may_send(moment)
        if not channels:
            return None
        async with self.store.transaction() as session:
            claimed = await claim(
                session,
                now=moment,
                lease=timedelta(seconds=self.settings.lease_seconds),
                limit=self.settings.deliver_batch,
                channels=channels,
            )
        checkpoint("deliver.after_claim")
        if not claimed:
            return None
        outgoing, suppressed = await self.composer.compose(self.store, [c.id for c in claimed])
        return _Taken(moment, claimed, outgoing, suppressed)

    async def _send_and_record(self, taken: _Taken) -> DeliverReport:
        report = DeliverReport(claimed=len(taken.claimed))
        by_channel: dict[Channel, list[Outgoing]] = defaultdict(list)
        for channel, message in taken.outgoing:
            by_channel[channel].append(message)
        results: list[Result] = []
        for channel, messages in by_channel.items():
            try:
                results += await self.senders[channel].send(messages)
            except Exception as exc:  # a sender bug must not lose the batch: retry it
                log.exception("channel %s failed", channel.value)
                results += [Result(m.outbox_id, Outcome.TEMPORARY, repr(exc)) for m in messages]
        checkpoint("deliver.after_send")
        changed = self._changed_health()
        async with self.store.transaction() as session:
            await record(
                session,
                self.settings,
                results,
                taken.suppressed,
                {c.id: c for c in taken.claimed},
                taken.now,
                report,
            )
            if changed:
                await save_health(session, changed, taken.now)
        checkpoint("deliver.after_record")
        return report

    async def deliver_batch(self, *, now: datetime | None = None) -> DeliverReport:
        """Claim one batch, send it, record it. Returns what happened (claimed == 0: idle)."""
        taken = await self._take(now)
        return DeliverReport() if taken is None else await self._send_and_record(taken)

    async def drain(
        self, *, stop: asyncio.Event | None = None, now: datetime | None = None
    ) -> DeliverReport:
        """Deliver until nothing is due (or `stop` is set). Pipelined: the next batch is
        claimed and composed while the current one is on the wire, so connections stay busy.
        `now` fixes the clock (tests); by default each batch reads the time."""
        total = DeliverReport()
        taken = await self._take(now)
        while taken is not None:
            sending = asyncio.create_task(self._send_and_record(taken))
            try:
                stopping = stop is not None and stop.is_set()
                following = None if stopping else await self._take(now)
            finally:
                total.add(await sending)
            taken = following
        return total

    def _changed_health(self) -> list[Sender]:
        changed = []
        for sender in self.senders.values():
            snapshot = (sender.state.paused_until, sender.state.note)
            if self._health.get(sender.name) != snapshot:
                self._health[sender.name] = snapshot
                changed.append(sender)
        return changed

    async def close(self) -> None:
        for sender in self.senders.values():
            await sender.close()
