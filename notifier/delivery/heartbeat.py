"""This process as a worker: registered before its first claim, a heartbeat every
`worker_heartbeat` seconds, and on each beat the claims of dead workers taken back, so a
message claimed by a process that died goes out again in seconds, not after its lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from notifier import __version__
from notifier.config import Settings
from notifier.store.engine import Store
from notifier.store.models import utcnow
from notifier.store.workers import beat, dead_workers, here, reclaim, register, unregister

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, store: Store, settings: Settings, *, role: str) -> None:
        self.store = store
        self.settings = settings
        self.role = role
        self.me = here()
        self._id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._registering = asyncio.Lock()
        self._last_beat: float | None = None

    async def worker_id(self) -> int:
        """Who this process is in the store; registers it (and starts beating) the first time,
        and again if it was found dead meanwhile."""
        async with self._registering:
            if self._id is None:
                await self._register()
            assert self._id is not None
            return self._id

    async def _register(self) -> None:
        now = utcnow()
        async with self.store.transaction() as session:
            self._id = await register(
                session, me=self.me, role=self.role, version=__version__, now=now
            )
            # A restart on this machine frees what the killed process held, before any claim.
            dead = await dead_workers(
                session, me=self.me, now=now, silence=self._timeout, trust_clock=False
            )
            taken = await reclaim(session, dead, now=now)
        if taken:
            log.warning("took back %d message(s) claimed by %d dead worker(s)", taken, len(dead))
        self._last_beat = asyncio.get_running_loop().time()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._beating(), name="worker heartbeat")

    @property
    def _timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.worker_timeout)

    async def _beating(self) -> None:
        """Beat until close() sets the stop, which it sees between beats (never cancelled
        inside a transaction: that can leave a SQLite connection holding the write lock)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.worker_heartbeat)
            if self._stop.is_set():
                return
            try:
                await self.beat()
            except Exception:  # the store is away for a moment: the next beat tries again
                log.exception("worker heartbeat failed")

    async def beat(self) -> None:
        """Write the heartbeat; give back what dead workers held."""
        loop = asyncio.get_running_loop()
        async with self._registering:
            if self._id is None:
                return
            now = utcnow()
            # Only judge others by their silence when this worker's own beats came on time:
            # if the store (or this machine) stalled everyone, silence proves nothing.
            regular = (
                self._last_beat is not None
                and loop.time() - self._last_beat <= 2 * self.settings.worker_heartbeat
            )
            async with self.store.transaction() as session:
                alive = await beat(session, self._id, now=now)
                dead = await dead_workers(
                    session, me=self.me, now=now, silence=self._timeout, trust_clock=regular
                )
                taken = await reclaim(session, dead, now=now)
            self._last_beat = loop.time()
            if taken:
                log.warning(
                    "took back %d message(s) claimed by %d dead worker(s)", taken, len(dead)
                )
            if not alive:
                log.warning("this worker was taken for dead (a stall?); registering again")
                self._id = None
                await self._register()

    async def close(self) -> None:
        """A clean stop: anything still claimed goes back, the worker row goes."""
        if self._task is not None:
            self._stop.set()
            await self._task
            self._task = None
        if self._id is not None:
            async with self.store.transaction() as session:
                await unregister(session, self._id)
            self._id = None
