"""notifier as separate processes: killed between any two steps, run twice at once, scaled out
to several workers, stopped by SIGTERM. Nothing is lost; nothing is sent twice beyond the
messages in flight when a process died."""

from __future__ import annotations

import asyncio
import mailbox
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from notifier.channels.maildir import CHUNK as MAILDIR_CHUNK
from notifier.config import Settings
from notifier.domain import OutboxStatus, Severity
from notifier.domain.subscriber_specs import SubscriberSpec
from notifier.faults import CRASH_EXIT_CODE
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.service import pipeline
from notifier.store.cases import add_update, get_case, import_cases
from notifier.store.engine import open_store
from notifier.store.models import OutboxMessage
from notifier.store.subscribers import import_subscribers
from notifier.watch import watch_once
from tests.helpers import KZ, new_store
from tests.live_server import free_port
from tests.smtp_server import SmtpServer

#: Each test starts whole `notifier` processes (a second or more of imports each, several
#: times that with the machine's cores busy): a generous limit of their own, and every wait
#: below is for a condition, bounded only to end a hung test.
pytestmark = pytest.mark.timeout(300)
WAIT = 240


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    env |= {
        "NOTIFIER_CONFIG": "",  # no settings file: a developer's notifier.toml must not count
        "NOTIFIER_DATA_DIR": str(settings.data_dir),
        "NOTIFIER_DATABASE_URL": settings.database_url,
        "NOTIFIER_WATCH_INTERVAL": "0.2",
        "NOTIFIER_WEB_PORT": str(settings.web_port),
    }
    return env | extra


def notifier(settings: Settings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "notifier", *args],
        env=env_for(settings, **extra),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


def start(settings: Settings, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "notifier", *args],
        env=env_for(settings, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def message_ids(settings: Settings) -> Counter[str]:
    if not settings.mail_dir.exists():
        return Counter()
    return Counter(str(m["Message-ID"]) for m in mailbox.Maildir(str(settings.mail_dir)))


async def populate(settings: Settings, subscribers: int, *, match: bool = False) -> None:
    """Sample cases, `subscribers` people following Kazakhstan, and one new update."""
    async with pipeline(settings) as p:
        async with p.store.transaction() as session:
            await import_cases(session, load_case_files(sample_case_files()))
            specs = [
                SubscriberSpec(where="t", email=f"s{i}@example.org", follows=[KZ])
                for i in range(subscribers)
            ]
            await import_subscribers(session, specs, settings)
            case = await get_case(session, "kashkumbaev")
            await add_update(
                session, case, day=case.updates[-1].event_date, title="Moved to another prison",
                body="He was moved.", source_name="Open Doors", source_url=None,
                severity=Severity.NORMAL,
            )  # fmt: skip
        if match:
            await watch_once(p.store)


async def statuses(settings: Settings) -> dict[str, int]:
    async with pipeline(settings) as p, p.store.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {s.value: n for s, n in rows}


@pytest.mark.parametrize(
    "crash_at",
    [
        "watch.before_commit",
        "deliver.after_claim",
        "deliver.after_answer",
        "deliver.after_send",
        "deliver.after_record",
    ],
)
def test_killed_between_steps_loses_nothing(settings: Settings, crash_at: str) -> None:
    if settings.database_url.startswith("postgresql") and crash_at != "deliver.after_answer":
        pytest.skip("every crash point runs on SQLite; PostgreSQL runs the in-flight case")
    asyncio.run(populate(settings, 30))
    crashed = notifier(settings, "run", "--once", "--quiet", NOTIFIER_CRASH_AT=crash_at)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    # Started again at once: the dead process's claims come back without waiting out their
    # lease (300 s), because its worker is found dead (same machine, process gone).
    again = notifier(settings, "run", "--once", "--quiet")
    assert again.returncode == 0, again.stderr
    ids = message_ids(settings)
    assert len(ids) == 30  # every subscriber got the alert
    twice = [i for i, n in ids.items() if n > 1]
    if crash_at == "deliver.after_answer":
        # Killed as the first answer came back, before it was recorded: the messages of that
        # one write into the Maildir go again (with their Message-IDs); the rest of the batch
        # was never sent.
        assert 1 <= len(twice) <= MAILDIR_CHUNK
    elif crash_at == "deliver.after_send":
        # Killed after the whole batch went, with the last results still being written:
        # only those go twice (each with its Message-ID), never the batch as a whole.
        assert len(twice) < 30
    else:
        assert twice == []
    assert all(n <= 2 for n in ids.values())
    assert asyncio.run(statuses(settings)) == {"sent": 30}  # nothing left to send again


def test_digest_killed_before_commit_is_built_once_on_restart(settings: Settings) -> None:
    asyncio.run(populate(settings, 0))
    subscribers = Path(__file__).resolve().parent.parent / "subscribers"
    assert notifier(settings, "lists", "apply", str(subscribers)).returncode == 0
    added = notifier(
        settings, "updates", "add", "kashkumbaev", "--title", "Letters arrive", "--source", "x"
    )
    assert added.returncode == 0, added.stderr
    crashed = notifier(
        settings, "digest", "send", "--list", "kazakhstan-prayer-chain",
        NOTIFIER_CRASH_AT="digest.before_commit",
    )  # fmt: skip
    assert crashed.returncode == CRASH_EXIT_CODE
    assert message_ids(settings) == Counter()
    sent = notifier(settings, "digest", "send", "--list", "kazakhstan-prayer-chain")
    assert "4 message(s) queued" in sent.stdout, sent.stderr
    assert len(message_ids(settings)) == 4


def test_two_runs_at_once_on_sqlite_send_each_message_once(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", database_url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"
    )
    asyncio.run(new_store(settings))
    asyncio.run(populate(settings, 400))
    first = start(settings, "run", "--once", "--quiet")
    second = start(settings, "run", "--once", "--quiet")
    for proc in (first, second):
        _, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
    ids = message_ids(settings)
    assert len(ids) == 400
    assert max(ids.values()) == 1
    assert asyncio.run(statuses(settings)) == {"sent": 400}


@pytest.mark.postgres
def test_three_workers_on_postgresql_send_5000_messages_exactly_once(
    settings: Settings,
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("several workers share one outbox on PostgreSQL")
    asyncio.run(populate(settings, 5000, match=True))
    workers = [start(settings, "worker", "--quiet") for _ in range(3)]
    try:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if asyncio.run(statuses(settings)).get("sent") == 5000:
                break
            time.sleep(0.5)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.communicate(timeout=WAIT)
    assert [w.returncode for w in workers] == [0, 0, 0]
    ids = message_ids(settings)
    assert len(ids) == 5000
    assert max(ids.values()) == 1

    async def attempts() -> int:
        async with pipeline(settings) as p, p.store.transaction() as session:
            return int(await session.scalar(select(func.max(OutboxMessage.attempts))) or 0)

    assert asyncio.run(attempts()) == 1  # each message claimed by exactly one worker


def test_service_alerts_while_running_and_stops_cleanly_on_sigterm(settings: Settings) -> None:
    asyncio.run(populate(settings, 3, match=True))
    port = free_port()
    settings = settings.model_copy(update={"web_port": port})
    service = start(settings, "run")
    try:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and len(message_ids(settings)) < 3:
            time.sleep(0.2)
        assert len(message_ids(settings)) == 3
        # The web app listens beside the scheduler; it may bind after the first sends.
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), what="the web app")
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.json() == {"ok": True, "store": "ok", "scheduler": "ok"}
        added = notifier(
            settings, "updates", "add", "makhset-djabbarbergenov", "--title", "Family safe",
            "--source", "Open Doors",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        while time.monotonic() < deadline and len(message_ids(settings)) < 6:
            time.sleep(0.2)
        assert len(message_ids(settings)) == 6
    finally:
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=WAIT)
    assert service.returncode == 0, err
    assert "notifier stopped" in out
    assert asyncio.run(statuses(settings)) == {OutboxStatus.SENT.value: 6}


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=10)
    except httpx.ConnectError:
        return False
    return True


def wait_for(condition: Callable[[], bool], *, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.1)


def outbox_holds(settings: Settings, messages: int) -> Callable[[], bool]:
    async def size() -> int:
        async with open_store(settings) as store, store.read() as session:
            return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)

    return lambda: asyncio.run(size()) == messages


@pytest.mark.timeout(240)
def test_a_long_send_logs_no_skipped_runs_and_a_stop_during_it_lets_the_batch_finish(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    """While one delivery runs for longer than the scheduler's interval, the runs that come due
    meanwhile are counted, not logged as a warning each time; SIGTERM in the middle of it lets
    the batch finish and logs no CancelledError traceback."""
    asyncio.run(populate(settings, 12, match=True))
    settings = settings.model_copy(update={"web_port": free_port()})
    smtp_server.hold()  # every message waits for its reply until release()
    service = start(
        settings, "run", NOTIFIER_SMTP_URL=f"smtp://{smtp_server.host}:{smtp_server.port}"
    )
    try:
        wait_for(lambda: smtp_server.held > 0, what="the first messages on the wire")
        # The watcher goes on meanwhile: two new updates are matched while the send waits, so
        # the scheduler has come round (and found the delivery still running) at least once.
        for number, title in enumerate(("Moved again", "Family allowed to visit"), start=2):
            added = notifier(
                settings, "updates", "add", "kashkumbaev", "--title", title,
                "--source", "Forum 18",
            )  # fmt: skip
            assert added.returncode == 0, added.stderr
            wait_for(outbox_holds(settings, 12 * number), what=f"the alerts of {title!r}")
        assert smtp_server.held > 0
        assert not smtp_server.received
        service.send_signal(signal.SIGTERM)
    finally:
        smtp_server.release()
        out, err = service.communicate(timeout=120)
    assert service.returncode == 0, err
    assert "notifier stopped" in out
    assert "maximum number of running instances" not in err
    assert "CancelledError" not in err
    assert "Traceback" not in err
    assert re.search(r"deliver: \d+ sent.*; runs skipped while busy: deliver \d+", err), err
    # The batch under way was sent and recorded; nothing is left claimed by the stopped run.
    counts = asyncio.run(statuses(settings))
    assert counts.get("sending", 0) == 0, counts
    assert counts["sent"] == len(smtp_server.received) > 0
    assert sum(counts.values()) == 36


def test_a_broken_template_stops_run_before_anything_is_sent(
    settings: Settings, tmp_path: Path
) -> None:
    asyncio.run(populate(settings, 2))
    overrides = tmp_path / "templates" / "email"
    overrides.mkdir(parents=True)
    (overrides / "alert.txt").write_text("{{ case.title }}\n{% for x in %}\n")
    broken = notifier(settings, "run", "--once", NOTIFIER_TEMPLATES_DIR=str(tmp_path / "templates"))
    assert broken.returncode == 1
    assert "alert.txt:2" in broken.stderr
    assert "Traceback" not in broken.stderr
    assert message_ids(settings) == Counter()
    (overrides / "alert.txt").write_text("{{ case.title }} {{ no_such_thing }}\n")
    undefined = notifier(
        settings, "run", "--once", NOTIFIER_TEMPLATES_DIR=str(tmp_path / "templates")
    )
    assert undefined.returncode == 1
    assert "alert.txt:1" in undefined.stderr
    assert "no_such_thing" in undefined.stderr
    assert message_ids(settings) == Counter()
