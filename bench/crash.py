"""Benchmark: kill -9 in the middle of a fan-out, and what it costs.

    python -m bench.crash [--messages 3000] [--kill-after 1000] [--delay 0.02]
                          [--database-url URL --workers 3] [--reset]

A store holds the two sample cases and N subscribers who follow Kazakhstan instantly by email;
one new update is matched (N outbox rows). A slow SMTP sink (`bench/smtp_sink.py --delay`, in
a process of its own) logs every message it accepts, with its recipient and Message-ID.

SQLite (default): one `notifier run` sends; once the sink has accepted `--kill-after`
messages it is killed with SIGKILL and started again at once. PostgreSQL (`--database-url`):
`--workers` `notifier worker` processes send side by side; one of them is killed and not
restarted, so the others must take its claims back.

One JSON line, last, on stdout:
- `lost`: messages the sink never accepted (goal 0);
- `duplicates`: copies beyond the first (goal ≤ connections: only what was on the wire);
- `duplicates_same_message_id`: of those, how many carried the first copy's Message-ID
  (goal: all of them, so receivers can drop them);
- `in_flight_at_kill`: messages whose data the sink had and was holding at the kill;
- `recovery_s`: from the kill until every message was accepted, minus the time the sink's own
  pace needs for what was left (measured before the kill in the same run). Goal ≤ 10.
  `kill_to_first_send_s` says how much of it passed before anything was sent again (a
  restart's start-up, or the survivors noticing the death).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from bench.data import log
from bench.email import fill_store
from bench.smtp_sink import start_sink, stop_sink
from notifier.config import Settings
from notifier.domain import Severity
from notifier.store.cases import add_update, get_case
from notifier.store.engine import open_store
from notifier.watch import watch_once

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.crash", description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--kill-after", type=int, default=None, help="default: a third")
    parser.add_argument("--delay", type=float, default=0.02, help="the sink holds each (s)")
    parser.add_argument("--connections", type=int, default=4, help="smtp_pool_size")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--workers", type=int, default=None, help="default 1 (SQLite), 3 (PG)")
    parser.add_argument("--reset", action="store_true", help="empty the PostgreSQL schema")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (s)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


async def add_news(settings: Settings) -> int:
    """One new update, matched: the outbox holds one alert per subscriber."""
    async with open_store(settings) as store:
        async with store.transaction() as session:
            case = await get_case(session, "kashkumbaev")
            await add_update(
                session, case, day=date.today(), title="Appeal court upholds the sentence",
                body="The court upheld the suspended sentence.", source_name="Forum 18",
                source_url="https://example.org/news/appeal", severity=Severity.NORMAL,
            )  # fmt: skip
        report = await watch_once(store)
    return report.alerts


class SinkLog:
    """What the sink wrote: BEGIN <n> when it has a message's data, ACCEPT <n> <rcpt> <id>."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> tuple[set[int], list[tuple[int, str, str]]]:
        begun: set[int] = set()
        accepted: list[tuple[int, str, str]] = []
        if not self.path.exists():
            return begun, accepted
        for line in self.path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if len(words) == 2 and words[0] == "BEGIN":
                begun.add(int(words[1]))
            elif len(words) == 4 and words[0] == "ACCEPT":
                accepted.append((int(words[1]), words[2], words[3]))
        return begun, accepted


def start_notifier(env: dict[str, str], role: str, workdir: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "notifier", role, "--quiet"]
    errors = (workdir / f"{role}-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=errors, stderr=errors)


def wait_for(condition: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.01)


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    settings = Settings(
        data_dir=workdir / "var",
        database_url=args.database_url or f"sqlite:///{workdir / 'crash.db'}",
    )
    postgres = settings.database_url.startswith("postgresql")
    workers = args.workers or (3 if postgres else 1)
    kill_after = args.kill_after or args.messages // 3
    asyncio.run(fill_store(settings, args.messages, reset=args.reset))
    queued = asyncio.run(add_news(settings))
    if queued != args.messages:
        raise SystemExit(f"matched {queued} alerts, not {args.messages}")
    sink_log = SinkLog(workdir / "sink.log")
    sink, port = start_sink(delay=args.delay, log=sink_log.path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")} | {
        "NOTIFIER_DATA_DIR": str(settings.data_dir),
        "NOTIFIER_DATABASE_URL": settings.database_url,
        "NOTIFIER_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "NOTIFIER_SMTP_POOL_SIZE": str(args.connections),
        "NOTIFIER_WATCH_INTERVAL": "0.2",
        "NOTIFIER_WEB_PORT": "0",
    }
    role = "worker" if postgres else "run"
    log(
        f"{args.messages:,} alerts, {workers} × notifier {role} on "
        f"{'PostgreSQL' if postgres else 'SQLite'}, {args.connections} connection(s) each, "
        f"sink holds each {args.delay * 1000:.0f} ms; SIGKILL after {kill_after:,}"
    )
    procs = [start_notifier(env, role, workdir) for _ in range(workers)]
    try:
        wait_for(lambda: len(sink_log.read()[1]) >= 1, timeout=args.timeout, what="a first one")
        first = time.monotonic()
        wait_for(
            lambda: len(sink_log.read()[1]) >= kill_after, timeout=args.timeout, what="the kill"
        )
        victim = procs[0]
        victim.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        victim.wait()
        begun, accepted = sink_log.read()
        in_flight = len(begun - {n for n, _, _ in accepted})
        distinct_at_kill = len({r for _, r, _ in accepted})
        pace = len(accepted) / max(killed - first, 1e-6)  # messages a second before the kill
        log(f"killed pid {victim.pid}: {len(accepted):,} accepted, {in_flight} on the wire")
        if not postgres:
            procs[0] = start_notifier(env, role, workdir)  # started again at once
        else:
            procs = procs[1:]
        accepted_at_kill = len(accepted)
        wait_for(
            lambda: len(sink_log.read()[1]) > accepted_at_kill,
            timeout=args.timeout,
            what="the first message after the kill",
        )
        resumed = time.monotonic()

        def all_accepted() -> bool:
            wanted: int = args.messages
            return len({r for _, r, _ in sink_log.read()[1]}) >= wanted

        wait_for(all_accepted, timeout=args.timeout, what="every message")
        done = time.monotonic()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        stop_sink(sink)
    _, accepted = sink_log.read()
    copies: dict[str, list[str]] = defaultdict(list)
    for _, recipient, message_id in accepted:
        copies[recipient].append(message_id)
    duplicates = sum(len(ids) - 1 for ids in copies.values())
    same = sum(sum(1 for i in ids[1:] if i == ids[0]) for ids in copies.values())
    left = args.messages - distinct_at_kill
    recovery = (done - killed) - left / pace
    result = {
        "database": "postgresql" if postgres else "sqlite",
        "workers": workers,
        "connections": args.connections,
        "messages": args.messages,
        "lost": args.messages - len(copies),
        "duplicates": duplicates,
        "duplicates_same_message_id": same,
        "in_flight_at_kill": in_flight,
        "recovery_s": round(max(recovery, 0.0), 2),
        "kill_to_done_s": round(done - killed, 2),
        "kill_to_first_send_s": round(resumed - killed, 2),
        "sink_pace_per_s": round(pace, 1),
        "left_at_kill": left,
    }
    log(
        f"lost {result['lost']}, {duplicates} duplicate(s) ({same} with the same Message-ID), "
        f"{in_flight} on the wire at the kill; everything in {done - killed:.1f} s after it, "
        f"of which the sink's pace needed {left / pace:.1f} s: recovery {result['recovery_s']} s"
    )
    return result


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="notifier-crash-"))
    try:
        result = measure(args, workdir)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
