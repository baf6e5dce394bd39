"""Workers and crash recovery in seconds: claims belong to a worker with a heartbeat, a dead
worker's claims come back at once, and results are recorded as each answer comes back, so a
crash sends again only what was on the wire."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, text, update

from notifier.channels.smtp import UNRECORDED, SmtpSender
from notifier.config import Settings
from notifier.delivery.record import DeliverReport
from notifier.delivery.recorder import Recorder
from notifier.domain import Channel, OutboxStatus
from notifier.domain.messages import Outcome, Result
from notifier.service import pipeline
from notifier.status import read_status
from notifier.store.engine import Store
from notifier.store.models import ChannelLease, OutboxMessage, Worker
from notifier.store.outbox import claim
from notifier.store.workers import worker_name
from tests.helpers import news, outbox_rows, seed_email_followers, smtp_settings
from tests.smtp_server import SmtpServer


def _settings(settings: Settings) -> Settings:
    # Beats far apart, so the test's own beats are the ones that count; a timeout no slow
    # machine reaches by accident between two lines of a test.
    return settings.model_copy(update={"worker_heartbeat": 5.0, "worker_timeout": 20.0})


async def _a_worker_elsewhere(store: Store, *, heartbeat_at: datetime, holds: list[int]) -> int:
    """A worker on another machine (so its pid means nothing here) holding these messages and
    a channel lease."""
    async with store.transaction() as session:
        worker = Worker(
            host="other-host", machine="other-host/boot/pid:[1]", pid=4242, role="worker",
            version="0.1.0", started_at=heartbeat_at, heartbeat_at=heartbeat_at,
        )  # fmt: skip
        session.add(worker)
        await session.flush()
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(holds))
            .values(
                status=OutboxStatus.SENDING,
                claimed_by=worker.id,
                lease_until=datetime.now(UTC) + timedelta(seconds=300),
            )
        )
        session.add(ChannelLease(name=f"telegram:{worker.id}", holder=worker_name(worker.id),
                                 until=datetime.now(UTC) + timedelta(seconds=30)))  # fmt: skip
        return worker.id


async def test_a_silent_worker_loses_its_claims_at_the_next_heartbeat(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    async with pipeline(smtp_settings(_settings(settings), smtp_server), role="worker") as p:
        await seed_email_followers(p, [(f"p{i}@example.org", "") for i in range(5)])
        await news(p)
        ids = [r.id for r in await outbox_rows(p)]
        silent = await _a_worker_elsewhere(
            p.store, heartbeat_at=datetime.now(UTC) - timedelta(seconds=60), holds=ids[:3]
        )
        fresh = await _a_worker_elsewhere(p.store, heartbeat_at=datetime.now(UTC), holds=ids[3:])
        heartbeat = p.deliverer.heartbeat
        me = await heartbeat.worker_id()
        await heartbeat.beat()  # this worker's beats are regular now: it may judge others
        async with p.store.read() as session:
            by_id = {m.id: m for m in await session.scalars(select(OutboxMessage))}
            workers = set(await session.scalars(select(Worker.id)))
            leases = list(await session.scalars(select(ChannelLease.holder)))
        assert {by_id[i].status for i in ids[:3]} == {OutboxStatus.PENDING}
        assert {by_id[i].claimed_by for i in ids[:3]} == {None}
        assert {by_id[i].status for i in ids[3:]} == {OutboxStatus.SENDING}  # alive: kept
        assert workers == {me, fresh}
        assert leases == [worker_name(fresh)]
        # What the silent worker held goes now, not after its 300 s lease.
        assert (await p.deliverer.drain()).sent == 3
        assert silent not in workers


async def test_a_worker_whose_own_beats_were_late_judges_no_one(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    """If this worker's own heartbeats stalled (a stalled store or machine stalls everyone),
    another worker's silence proves nothing: it is not taken for dead."""
    async with pipeline(smtp_settings(_settings(settings), smtp_server)) as p:
        await seed_email_followers(p, [("p@example.org", "")])
        await news(p)
        [row] = await outbox_rows(p)
        await _a_worker_elsewhere(
            p.store, heartbeat_at=datetime.now(UTC) - timedelta(seconds=60), holds=[row.id]
        )
        heartbeat = p.deliverer.heartbeat
        await heartbeat.worker_id()
        heartbeat._last_beat = asyncio.get_running_loop().time() - 30  # a stall
        await heartbeat.beat()
        assert {r.status for r in await outbox_rows(p)} == {OutboxStatus.SENDING}
        await heartbeat.beat()  # on time again: now the silence counts
        assert {r.status for r in await outbox_rows(p)} == {OutboxStatus.PENDING}


async def test_a_worker_taken_for_dead_registers_again_and_records_nothing_of_others(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    async with pipeline(smtp_settings(_settings(settings), smtp_server)) as p:
        await seed_email_followers(p, [("p@example.org", "")])
        await news(p)
        heartbeat = p.deliverer.heartbeat
        first = await heartbeat.worker_id()
        async with p.store.transaction() as session:  # another worker found it dead
            await session.execute(delete(Worker).where(Worker.id == first))
        await heartbeat.beat()
        second = await heartbeat.worker_id()
        assert second != first
        assert (await p.deliverer.drain()).sent == 1


async def test_status_lists_workers_with_their_heartbeat_and_holdings(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    async with pipeline(smtp_settings(_settings(settings), smtp_server), role="worker") as p:
        await seed_email_followers(p, [(f"p{i}@example.org", "") for i in range(2)])
        await news(p)
        ids = [r.id for r in await outbox_rows(p)]
        other = await _a_worker_elsewhere(p.store, heartbeat_at=datetime.now(UTC), holds=ids)
        me = await p.deliverer.heartbeat.worker_id()
        status = await read_status(p.store, now=datetime.now(UTC))
        by_id = {w.id: w for w in status.workers}
        assert set(by_id) == {me, other}
        assert (by_id[me].role, by_id[me].holding) == ("worker", 0)
        assert (by_id[other].host, by_id[other].holding) == ("other-host", 2)
    async with pipeline(settings) as p:
        # A clean stop took this worker's row away.
        assert {w.id for w in (await read_status(p.store, now=datetime.now(UTC))).workers} == {
            other
        }


async def test_smtp_lets_a_message_go_only_once_the_one_before_the_last_is_recorded(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    """The server accepts a message at the end of DATA. A connection sends DATA for a message
    only once the result of the message UNRECORDED places before it is in the store, so when a
    result is recorded the server holds at most UNRECORDED - 1 later messages from that
    connection: a crash at any moment sends again at most UNRECORDED per connection."""
    configured = smtp_settings(settings, smtp_server, smtp_pool_size=1)
    async with pipeline(configured) as p:
        await seed_email_followers(p, [(f"p{i}@example.org", "") for i in range(8)])
        await news(p)
        sender = p.deliverer.senders[Channel.EMAIL]
        assert isinstance(sender, SmtpSender)
        composed = await p.deliverer.composer.compose(p.store, [r.id for r in await outbox_rows(p)])
        messages = [m for _, m in composed.outgoing]
        received_when_recorded: list[int] = []
        loop = asyncio.get_running_loop()

        hurried: list[int] = []

        class SlowStore:
            """Each record lands a moment after its result, as a store write does."""

            def __call__(self, result: Result) -> asyncio.Future[None]:
                recorded: asyncio.Future[None] = loop.create_future()

                def write() -> None:
                    received_when_recorded.append(len(smtp_server.received))
                    recorded.set_result(None)

                loop.call_later(0.05, write)
                return recorded

            def hurry(self) -> None:
                hurried.append(len(smtp_server.received))

        results = await sender.send(messages, SlowStore())
        assert [r.outcome for r in results] == [Outcome.SENT] * 8
        # When message k's result was written, the server had at most k + UNRECORDED - 1.
        assert received_when_recorded == sorted(received_when_recorded)
        for k, received in enumerate(received_when_recorded, start=1):
            assert k <= received <= k + UNRECORDED - 1
        # The connection said so each time it had to wait for a record.
        assert hurried


async def test_results_are_written_in_groups_at_once_when_a_sender_waits_and_soon_when_not(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    """Group commit: results that arrive together go in one write, at once when a sender says
    it waits on one (`hurry`), else within LINGER; each result's future is done once its row
    says sent."""
    async with pipeline(smtp_settings(_settings(settings), smtp_server), role="worker") as p:
        await seed_email_followers(p, [(f"p{i}@example.org", "") for i in range(5)])
        await news(p)
        worker = await p.deliverer.heartbeat.worker_id()
        async with p.store.transaction() as session:
            claimed = await claim(
                session, now=datetime.now(UTC), lease=timedelta(seconds=300), limit=10,
                channels=["email"], worker=worker,
            )  # fmt: skip
        writes = p.store.quick.writes
        report = DeliverReport()
        recorder = Recorder(
            p.store, p.settings, claimed={c.id: c for c in claimed}, suppressed={},
            report=report, worker=worker,
        )  # fmt: skip
        first, *rest = claimed
        alone = recorder(Result(first.id, Outcome.SENT))
        await alone  # nobody hurried: it goes within LINGER all the same
        assert p.store.quick.writes == writes + 1
        futures = [recorder(Result(c.id, Outcome.SENT)) for c in rest]
        assert not any(f.done() for f in futures)
        recorder.hurry()  # a sender waits on the last one
        await futures[-1]
        assert all(f.done() for f in futures)
        assert p.store.quick.writes == writes + 2  # the four that came together, in one write
        await recorder.close()
        assert report.sent == 5
        written = await outbox_rows(p)
        assert {r.status for r in written} == {OutboxStatus.SENT}
        # Stored as every other moment is (the loop's writes go to the driver directly).
        assert all(r.sent_at is not None and r.sent_at.tzinfo is not None for r in written)
        async with p.store.read() as session:
            raw = await session.execute(text("SELECT sent_at, created_at FROM outbox"))
            for sent_at, created_at in raw:
                assert type(sent_at) is type(created_at)
                if isinstance(sent_at, str):  # SQLite: the same text form, so they compare
                    assert len(sent_at) == len(created_at)
