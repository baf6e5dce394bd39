"""The pipeline end to end: a new update becomes exactly one message per recipient and
channel, digests go once per period, and nothing is sent twice however often a step runs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from notifier.channels.base import ChannelState, Limits, Report, Results
from notifier.config import Settings
from notifier.digests import plan_digests
from notifier.domain import Cadence, Channel, MessageKind, OutboxStatus, Scope, SubscriberStatus
from notifier.domain.messages import Outcome, Outgoing, Result
from notifier.domain.schedule import Schedule, last_due
from notifier.domain.subscriber_specs import FollowSpec, SubscriberSpec
from notifier.service import pipeline, run_once
from notifier.store.models import Case, OutboxMessage, Subscriber
from notifier.store.subscribers import get_subscriber, import_subscribers
from notifier.watch import watch_once
from tests.helpers import KZ, ROOT, Cli, maildir, new_update, outbox_rows, seed, subscribe, text_of


def test_cli_round_one_alert_then_nothing_then_list_digest(cli: Cli, settings: Settings) -> None:
    """The issue's 'done when': sample cases, example list, an instant Kazakhstan subscriber."""
    cli.ok("cases", "import", "--sample")
    cli.ok("lists", "apply", str(ROOT / "subscribers"))
    cli.ok("subscribers", "add", "kz@example.org", "--name", "Anna", "--follow-country", "KZ")
    first = cli.ok("run", "--once", "--quiet").stdout
    assert "queued 0 alert(s)" in first  # the sample history is not news
    cli.ok(
        "updates", "add", "Kashkumbaev", "--title", "Appeal court upholds sentence",
        "--body", "The court upheld the sentence.", "--source", "Forum 18",
    )  # fmt: skip
    assert "delivered 1," in cli.ok("run", "--once", "--quiet").stdout
    assert len(maildir(settings)) == 1
    assert "delivered 0," in cli.ok("run", "--once", "--quiet").stdout
    assert len(maildir(settings)) == 1
    [alert] = maildir(settings)
    assert alert["To"] == "Anna <kz@example.org>"
    assert "Appeal court upholds sentence" in alert["Subject"]

    sent = cli.ok("digest", "send", "--list", "kazakhstan-prayer-chain").stdout
    assert "4 message(s) queued" in sent
    # Sent again at once: nothing new since, so nothing goes (within the same minute, the
    # digest is the one just built; after it, an empty one).
    again = cli.ok("digest", "send", "--list", "kazakhstan-prayer-chain").stdout
    assert "nothing to send" in again
    assert "queued" not in again
    digests = [m for m in maildir(settings) if "prayer chain" in str(m["Subject"])]
    assert len(digests) == 4
    [german] = [m for m in digests if "maria.schmidt" in str(m["To"])]  # the chain's `de` member
    assert "Abmelden: http://127.0.0.1:8000/unsubscribe/" in text_of(german)
    body = text_of(next(m for m in digests if m is not german))
    assert "Appeal court upholds sentence" in body
    assert "Write him a letter of encouragement." in body
    assert "SI-12 (ETs 166/1)" in body
    assert "Father in heaven" in body
    assert "Unsubscribe: http://127.0.0.1:8000/unsubscribe/" in body


async def test_one_alert_per_person_and_channel_however_many_follows_match(
    settings: Settings,
) -> None:
    async with pipeline(settings) as p:
        await seed(p)
        case_follow = FollowSpec(Scope.CASE, "bakhytzhan-kashkumbayev")
        everything = FollowSpec(Scope.ALL, None)
        tg = FollowSpec(Scope.CASE, "kashkumbaev", Cadence.INSTANT, Channel.TELEGRAM)
        await subscribe(p, "anna@example.org", KZ, case_follow, everything, tg, chat=4242)
        await subscribe(p, "ben@example.org", FollowSpec(Scope.COUNTRY, "UZ"))
        update_id = await new_update(p)
        report = await run_once(p)
        assert report.watch.alerts == 2  # anna by email, anna by Telegram; ben follows UZ
        rows = await outbox_rows(p)
        assert {(r.channel, r.key) for r in rows} == {
            (Channel.EMAIL, f"alert:{update_id}"),
            (Channel.TELEGRAM, f"alert:{update_id}"),
        }
        transcript = settings.telegram_transcript.read_text(encoding="utf-8")
        assert '"chat_id": 4242' in transcript
        # Matching the same update again writes nothing.
        async with p.store.transaction() as session:
            from notifier.match import enqueue_alerts
            from notifier.store.models import Update

            row = await session.get(Update, update_id)
            case = await session.get(Case, row.case_id) if row else None
            assert row is not None
            assert case is not None
            assert await enqueue_alerts(session, row, case, now=datetime.now(UTC)) == 0


async def test_unpublished_case_reaches_no_one(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", FollowSpec(Scope.ALL, None))
        async with p.store.transaction() as session:
            await session.execute(update(Case).values(published=False))
        await new_update(p)
        report = await run_once(p)
        assert report.watch.updates == 7
        assert report.watch.alerts == 0
        assert maildir(settings) == []


async def test_urgent_update_reaches_digest_readers_now_and_in_their_digest(
    settings: Settings,
) -> None:
    async with pipeline(settings) as p:
        await seed(p)  # the list is weekly: its members get digests
        weekly = FollowSpec(Scope.COUNTRY, "KZ", Cadence.WEEKLY, Channel.EMAIL)
        await subscribe(p, "weekly@example.org", weekly)
        await new_update(p, title="Routine news")
        await new_update(p, title="Arrested again", urgent=True)
        report = await run_once(p)
        # 4 list members + the weekly reader get the urgent one now; nobody the routine one.
        assert report.watch.alerts == 5
        subjects = sorted(str(m["Subject"]) for m in maildir(settings))
        assert all("Arrested again" in s for s in subjects)
        # Each in the reader's language: the list's German member reads DRINGEND.
        assert sorted(s.split(":")[0] for s in subjects) == ["DRINGEND", *["URGENT"] * 4]
        # The weekly digest still holds both.
        async with p.store.transaction() as session:
            reader = await get_subscriber(session, "weekly@example.org")
            zone, at = reader.time_zone, reader.digest_time
        due = last_due(
            Schedule(datetime.strptime(at, "%H:%M").time(), 0),
            zone,
            datetime.now(UTC) + timedelta(days=7),
        )
        digests = await plan_digests(p.store, p.renderer, now=due + timedelta(minutes=1))
        assert digests.messages >= 1
        await p.deliverer.drain(now=due + timedelta(minutes=1))
        weekly_mail = [m for m in maildir(settings) if "weekly digest" in str(m["Subject"])]
        assert len(weekly_mail) == 1
        body = text_of(weekly_mail[0])
        assert "Routine news" in body
        assert "Arrested again" in body


async def test_digest_bodies_are_never_lost_when_the_body_cache_is_full(
    settings: Settings,
) -> None:
    """The deliverer keeps stored digest bodies in a bounded cache. A batch that needs a body
    already cached, when the cache is over its bound, must still find it (it was skipped from
    loading, then the cache was emptied: 'digest body missing', the digest never sent)."""
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        follows = {
            "a": FollowSpec(Scope.CASE, "kashkumbaev", Cadence.WEEKLY),
            "b": FollowSpec(Scope.CASE, "makhset-djabbarbergenov", Cadence.WEEKLY),
            "c": FollowSpec(Scope.COUNTRY, "KZ", Cadence.WEEKLY),
            "d": FollowSpec(Scope.COUNTRY, "KZ", Cadence.WEEKLY),
        }
        for name, follow in follows.items():
            await subscribe(p, f"{name}@example.org", follow)
        await new_update(p, title="First news")
        await new_update(p, title="Second news", case="makhset-djabbarbergenov")
        due = last_due(
            Schedule(datetime.strptime("07:00", "%H:%M").time(), 0),
            "UTC",
            datetime.now(UTC) + timedelta(days=7),
        )
        built = await plan_digests(p.store, p.renderer, now=due + timedelta(minutes=1))
        assert (built.messages, built.bodies) == (4, 3)
        async with p.store.read() as session:
            rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        by_body: dict[int | None, list[int]] = {}
        for row in rows:
            by_body.setdefault(row.body_id, []).append(row.id)
        shared = next(ids for ids in by_body.values() if len(ids) == 2)
        single = [ids[0] for ids in by_body.values() if len(ids) == 1]
        composer = p.deliverer.composer
        composer.cache_size = 2
        for ids in ([single[0]], [single[1]], [shared[0]], [shared[1]]):
            composed = await composer.compose(p.store, ids)
            assert (composed.suppressed, composed.failed) == ({}, {})
            assert len(composed.outgoing) == 1


async def test_a_digest_goes_once_per_period_and_once_after_downtime(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        weekly = FollowSpec(Scope.COUNTRY, "KZ", Cadence.WEEKLY, Channel.EMAIL)
        await subscribe(p, "weekly@example.org", weekly)
        schedule = Schedule(datetime.strptime("07:00", "%H:%M").time(), 0)
        start = datetime.now(UTC)
        first_due = last_due(schedule, "UTC", start + timedelta(days=7))
        # Nothing new yet: the first period builds an empty digest, which is not sent.
        empty = await plan_digests(p.store, p.renderer, now=first_due + timedelta(minutes=1))
        assert (empty.digests, empty.messages, empty.empty) == (1, 0, 1)
        await new_update(p, title="First news")
        await new_update(p, title="Second news", case="makhset-djabbarbergenov")
        # Down for three weeks: one digest for the latest period, holding everything.
        later = first_due + timedelta(days=21, minutes=5)
        built = await plan_digests(p.store, p.renderer, now=later)
        assert (built.digests, built.messages) == (1, 1)
        again = await plan_digests(p.store, p.renderer, now=later + timedelta(hours=1))
        assert again.messages == 0
        await p.deliverer.drain(now=later)
        [digest] = maildir(settings)
        body = text_of(digest)
        assert "First news" in body
        assert "Second news" in body
        # Both cases are in Kazakhstan: one country heading, two case headings.
        assert body.count("== Kazakhstan ==") == 1


async def test_unsubscribed_before_delivery_is_suppressed_not_sent(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        async with p.store.transaction() as session:
            await session.execute(update(Subscriber).values(status=SubscriberStatus.UNSUBSCRIBED))
        report = await p.deliverer.drain()
        assert (report.sent, report.suppressed) == (0, 1)
        [row] = await outbox_rows(p)
        assert row.status is OutboxStatus.SUPPRESSED
        assert row.last_error == "recipient unsubscribed"
        assert maildir(settings) == []


async def test_lease_expiry_makes_a_message_claimable_again(settings: Settings) -> None:
    from notifier.store.outbox import claim

    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        now = datetime.now(UTC)
        async with p.store.transaction() as session:
            first = await claim(session, now=now, lease=timedelta(seconds=60), limit=10)
        async with p.store.transaction() as session:
            assert await claim(session, now=now, lease=timedelta(seconds=60), limit=10) == []
        async with p.store.transaction() as session:
            later = now + timedelta(seconds=61)
            again = await claim(session, now=later, lease=timedelta(seconds=60), limit=10)
        assert [c.id for c in again] == [c.id for c in first]
        assert again[0].attempts == 2


async def test_claims_take_confirmations_then_alerts_then_digests(settings: Settings) -> None:
    """A weekly digest to thousands queued first must not hold back a sign-up's confirmation
    or the day's news: the claim takes them first, oldest first within each kind."""
    from notifier.store.outbox import claim

    now = datetime.now(UTC)
    queued = [
        (MessageKind.DIGEST, "digest:list:1"),
        (MessageKind.DIGEST, "digest:list:2"),
        (MessageKind.ALERT, "alert:1"),
        (MessageKind.CONFIRM, "confirm:1"),
        (MessageKind.ALERT, "alert:2"),
    ]
    async with pipeline(settings) as p:
        async with p.store.transaction() as session:
            session.add_all(
                OutboxMessage(
                    channel=Channel.EMAIL, recipient=f"subscriber:{n}", key=key, kind=kind,
                    next_attempt_at=now - timedelta(seconds=1), created_at=now,
                )
                for n, (kind, key) in enumerate(queued)
            )  # fmt: skip
        order = []
        for _ in queued:
            async with p.store.transaction() as session:
                (taken,) = await claim(session, now=now, lease=timedelta(seconds=60), limit=1)
                row = await session.get(OutboxMessage, taken.id)
                assert row is not None
                order.append(row.key)
    assert order == ["confirm:1", "alert:1", "alert:2", "digest:list:1", "digest:list:2"]


async def test_counts_are_one_query_per_update_not_per_subscriber(settings: Settings) -> None:
    """2,000 subscribers: matching an update writes 2,000 rows with a handful of statements."""
    from sqlalchemy import event

    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        async with p.store.transaction() as session:
            specs = [
                SubscriberSpec(where="t", email=f"s{i}@example.org", follows=[KZ])
                for i in range(2000)
            ]
            await import_subscribers(session, specs, p.settings)
        await new_update(p)
        statements: list[str] = []

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(p.store.engine.sync_engine, "before_cursor_execute", count)
        try:
            report = await watch_once(p.store)
        finally:
            event.remove(p.store.engine.sync_engine, "before_cursor_execute", count)
        assert report.alerts == 2000
        assert len(statements) < 12, statements
        async with p.store.transaction() as session:
            total = await session.scalar(select(func.count()).select_from(OutboxMessage))
        assert total == 2000


class FlakySender:
    """A channel that refuses the first `failures` attempts of every message with the given
    outcome: the outbox's retry, give-up and bounce rules are the thing under test here."""

    name = "flaky"

    def __init__(self, failures: int, outcome: Outcome) -> None:
        self.limits = Limits()
        self.state = ChannelState()
        self.failures = failures
        self.outcome = outcome
        self.seen: Counter[int] = Counter()

    async def send(
        self, messages: Sequence[Outgoing], report: Report | None = None
    ) -> list[Result]:
        results = Results(report)
        for m in messages:
            self.seen[m.outbox_id] += 1
            if self.seen[m.outbox_id] <= self.failures:
                results.add(Result(m.outbox_id, self.outcome, "451 4.3.0 try later"))
            else:
                results.add(Result(m.outbox_id, Outcome.SENT))
        return results

    async def close(self) -> None:
        return None


async def test_temporary_failures_retry_with_backoff_then_succeed(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        flaky = FlakySender(2, Outcome.TEMPORARY)
        p.deliverer.senders = {Channel.EMAIL: flaky}
        now = datetime.now(UTC)
        first = await p.deliverer.drain(now=now)
        assert (first.sent, first.retried) == (0, 1)
        [row] = await outbox_rows(p)
        assert row.status is OutboxStatus.RETRY
        assert row.attempts == 1
        assert row.last_error == "451 4.3.0 try later"
        delay = (row.next_attempt_at - now).total_seconds()
        assert settings.retry_base_delay / 2 <= delay <= settings.retry_base_delay
        # Not due yet: nothing happens.
        assert (await p.deliverer.drain(now=now)).claimed == 0
        second = await p.deliverer.drain(now=row.next_attempt_at)
        assert second.retried == 1
        [row] = await outbox_rows(p)
        third = await p.deliverer.drain(now=row.next_attempt_at)
        assert third.sent == 1
        [row] = await outbox_rows(p)
        assert (row.status, row.attempts, row.last_error) == (OutboxStatus.SENT, 3, None)


async def test_a_message_failing_past_the_max_age_is_failed(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        p.deliverer.senders = {Channel.EMAIL: FlakySender(100, Outcome.TEMPORARY)}
        [row] = await outbox_rows(p)
        late = row.created_at + timedelta(seconds=settings.max_message_age + 1)
        report = await p.deliverer.drain(now=late)
        assert report.failed == 1
        [row] = await outbox_rows(p)
        assert row.status is OutboxStatus.FAILED
        assert row.last_error is not None
        assert row.last_error.startswith("gave up after 1 attempts: 451")
        # An admin sends it again: a fresh delivery effort, the max-age clock restarted.
        from notifier.store.outbox import retry

        async with p.store.transaction() as session:
            assert await retry(session, failed=True, now=late) == 1
        p.deliverer.senders = {Channel.EMAIL: FlakySender(0, Outcome.TEMPORARY)}
        assert (await p.deliverer.drain(now=late)).sent == 1


async def test_a_bounce_fails_the_message_and_stops_mail_to_the_address(
    settings: Settings,
) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "gone@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        p.deliverer.senders = {Channel.EMAIL: FlakySender(1, Outcome.BOUNCED)}
        report = await p.deliverer.drain()
        assert report.failed == 1
        async with p.store.transaction() as session:
            gone = await get_subscriber(session, "gone@example.org")
            assert gone.status is SubscriberStatus.BOUNCED
        await new_update(p, title="More news")
        assert (await watch_once(p.store)).alerts == 0


def test_cli_preview_status_and_template_errors(cli: Cli, tmp_path: Path) -> None:
    cli.ok("cases", "import", "--sample")
    cli.ok("lists", "apply", str(ROOT / "subscribers"))
    nothing = cli.ok("digest", "preview", "--list", "kazakhstan-prayer-chain").stdout
    assert "nothing new for kazakhstan-prayer-chain" in nothing
    text = cli.ok("digest", "preview", "--list", "kazakhstan-prayer-chain", "--recent", "2").stdout
    assert text.startswith("Subject: Kazakhstan prayer chain: 2 updates")
    assert "Released and flown to Germany" in " ".join(text.split())
    assert " – " in text.splitlines()[0]  # the subject names the period: "23 – 30 November …"
    out = tmp_path / "digest.html"
    cli.ok(
        "digest", "preview", "--list", "kazakhstan-prayer-chain", "--recent", "3",
        "--format", "html", "--out", str(out),
    )  # fmt: skip
    assert out.read_text().startswith("<!DOCTYPE html>")
    telegram = cli.ok(
        "digest", "preview", "--list", "kazakhstan-prayer-chain", "--recent", "1",
        "--format", "telegram",
    ).stdout  # fmt: skip
    assert telegram.startswith("<b>Kazakhstan prayer chain</b>")
    bad = cli("digest", "preview", "--list", "nope")
    assert bad.exit_code == 1
    assert "no list 'nope'" in bad.stderr

    status = json.loads(cli.ok("status", "--json").stdout)
    assert status["outbox"] == []
    assert status["next_digests"][0]["what"].startswith("list kazakhstan-prayer-chain")

    broken = tmp_path / "templates" / "email"
    broken.mkdir(parents=True)
    (broken / "digest.html").write_text("<p>{{ title }</p>\n")
    env_cli = Cli(
        cli.settings.model_copy(update={"templates_dir": tmp_path / "templates"}), cli.cwd
    )
    result = env_cli("digest", "preview", "--list", "kazakhstan-prayer-chain", "--recent", "1")
    assert result.exit_code == 1
    assert "digest.html:1" in result.stderr


async def test_idle_polls_are_one_indexed_read_each(settings: Settings) -> None:
    """The service polls every second: with nothing new, watch and deliver cost one read each
    (plus the transaction's BEGIN/COMMIT) and take no write lock."""
    from sqlalchemy import event

    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await watch_once(p.store)
        await p.deliverer.heartbeat.worker_id()  # registered once, at the process's first poll
        statements: list[str] = []

        def record(*args: object) -> None:
            statements.append(str(args[2]).strip().split()[0].upper())

        event.listen(p.store.engine.sync_engine, "before_cursor_execute", record)
        try:
            assert (await watch_once(p.store)).updates == 0
            assert (await p.deliverer.deliver_batch()).claimed == 0
        finally:
            event.remove(p.store.engine.sync_engine, "before_cursor_execute", record)
        work = [s for s in statements if s not in {"BEGIN", "COMMIT", "ROLLBACK"}]
        assert work == ["SELECT", "SELECT"]
        if p.store.dialect == "sqlite":
            assert "BEGIN" in statements  # deferred: no write lock for a poll


async def test_prune_deletes_only_old_finished_messages(settings: Settings) -> None:
    from notifier.store.outbox import prune

    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        for i in range(3):
            await subscribe(p, f"p{i}@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        await p.deliverer.drain()  # all three sent
        await new_update(p, title="Later news")
        await watch_once(p.store)  # three pending
        old = datetime.now(UTC) - timedelta(days=100)
        async with p.store.transaction() as session:
            await session.execute(update(OutboxMessage).values(created_at=old))
            deleted = await prune(session, before=datetime.now(UTC) - timedelta(days=90))
        assert deleted == 3
        left = await outbox_rows(p)
        assert len(left) == 3
        assert {r.status for r in left} == {OutboxStatus.PENDING}  # never pruned


def test_cli_prune(cli: Cli) -> None:
    cli.ok("cases", "import", "--sample")
    assert "deleted 0 finished message(s) older than 90 day(s)" in cli.ok("outbox", "prune").stdout
    bad = cli("outbox", "prune", "--older-than", "0")
    assert bad.exit_code == 1
    assert "[--older-than]: at least 1 day" in bad.stderr
