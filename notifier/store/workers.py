"""Workers: the processes that deliver, each with a heartbeat, and what happens to the messages
a dead one had claimed.

A worker is dead when its heartbeat is older than the timeout, or — at once — when it ran on
this very machine and its process is gone (the usual case: `notifier run` killed and started
again). Its claims go back to `pending` and its channel leases are freed, so nothing waits out
a lease because its owner died. A worker found dead while it was only slow (a stalled machine)
loses its claims too; it notices at its next heartbeat and registers again. That can send the
messages it had on the wire twice — never lose one."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.domain import OutboxStatus
from notifier.store.models import ChannelLease, OutboxMessage, Worker, status_in
from notifier.store.outbox import give_back


@dataclass(frozen=True)
class Here:
    """This process, as a worker row describes it."""

    host: str
    machine: str
    pid: int


@cache
def _machine() -> str:
    """Host name, boot and pid namespace: equal only where a pid names the same process."""
    parts = [socket.gethostname()]
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    except OSError:
        parts.append("?")
    try:
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        parts.append("?")
    return "/".join(parts)[:255]


def here() -> Here:
    return Here(socket.gethostname()[:255], _machine(), os.getpid())


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def worker_name(worker_id: int) -> str:
    """How a worker signs what it holds (channel leases)."""
    return f"worker:{worker_id}"


async def register(
    session: AsyncSession, *, me: Here, role: str, version: str, now: datetime
) -> int:
    worker = Worker(
        host=me.host,
        machine=me.machine,
        pid=me.pid,
        role=role[:40],
        version=version[:40],
        started_at=now,
        heartbeat_at=now,
    )
    session.add(worker)
    await session.flush()
    return worker.id


async def beat(session: AsyncSession, worker_id: int, *, now: datetime) -> bool:
    """Record that this worker lives. False: it had been found dead and its claims taken."""
    result = await session.execute(
        update(Worker).where(Worker.id == worker_id).values(heartbeat_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def dead_workers(
    session: AsyncSession, *, me: Here, now: datetime, silence: timedelta, trust_clock: bool
) -> list[int]:
    """Workers to give up on: on this machine with their process gone, and (when this worker's
    own heartbeats are regular, so a store that stalled everyone is not taken for deaths)
    anyone silent for longer than `silence`."""
    rows = await session.execute(select(Worker.id, Worker.machine, Worker.pid, Worker.heartbeat_at))
    dead = []
    for worker_id, machine, pid, heartbeat_at in rows:
        gone = machine == me.machine and pid != me.pid and not process_exists(pid)
        if gone or (trust_clock and heartbeat_at < now - silence):
            dead.append(worker_id)
    return dead


async def reclaim(session: AsyncSession, worker_ids: Sequence[int], *, now: datetime) -> int:
    """Give back what dead workers held: their messages due now, their channel leases free,
    their rows gone. Returns how many messages came back."""
    if not worker_ids:
        return 0
    taken = await give_back(session, worker_ids, now=now)
    await session.execute(
        delete(ChannelLease).where(ChannelLease.holder.in_([worker_name(i) for i in worker_ids]))
    )
    await session.execute(delete(Worker).where(Worker.id.in_(worker_ids)))
    return taken


async def unregister(session: AsyncSession, worker_id: int) -> None:
    """A clean stop: anything still claimed goes back, the row goes."""
    await give_back(session, [worker_id])
    await session.execute(delete(ChannelLease).where(ChannelLease.holder == worker_name(worker_id)))
    await session.execute(delete(Worker).where(Worker.id == worker_id))


@dataclass(frozen=True)
class WorkerRow:
    id: int
    host: str
    pid: int
    role: str
    version: str
    started_at: datetime
    heartbeat_at: datetime
    #: Messages it has claimed and not yet recorded.
    holding: int


async def list_workers(session: AsyncSession) -> list[WorkerRow]:
    holding = (
        select(OutboxMessage.claimed_by, func.count().label("n"))
        .where(status_in(OutboxStatus.SENDING))
        .group_by(OutboxMessage.claimed_by)
        .subquery()
    )
    rows = await session.execute(
        select(
            Worker.id,
            Worker.host,
            Worker.pid,
            Worker.role,
            Worker.version,
            Worker.started_at,
            Worker.heartbeat_at,
            func.coalesce(holding.c.n, 0),
        )
        .outerjoin(holding, holding.c.claimed_by == Worker.id)
        .order_by(Worker.id)
    )
    return [WorkerRow(*row) for row in rows]
