"""A fake Telegram Bot API for benchmarks: the tests' `tests.fake_telegram.FakeBotApi` (one
implementation, so benchmarks and tests see the same answers), started with Telegram's flood
limits on. It runs in a thread of this process with its own event loop, so a benchmark script
starts it, points python-telegram-bot at it and reads the counts afterwards:

    api = start_fake_api()                     # enforce_limits=True: 429 beyond 30/s, 1/s, 20/min
    bot = ExtBot(api.token, base_url=api.base_url, rate_limiter=AIORateLimiter())
    ...                                        # send
    api.stop()
    print(len(api.sent), api.rate_limited)

It needs the test extras (aiohttp, pytest) and the repository root on sys.path (`python -m
bench.…` from the root does that). The server shares this process's GIL: fine for what the
limits bound (30 messages a second), not for measuring an unlimited client's top speed.

`python -m bench.telegram_sink [--no-limits]` runs it alone and prints each message it accepts,
e.g. to watch what `notifier run` would send to Telegram; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from tests.fake_telegram import DEFAULT_TOKEN, FakeBotApi, SentMessage

__all__ = ["FakeBotApi", "SentMessage", "start_fake_api"]


def start_fake_api(
    *,
    enforce_limits: bool = True,
    token: str = DEFAULT_TOKEN,
    username: str = "notifier_bench_bot",
) -> FakeBotApi:
    """A started FakeBotApi; stop it with `.stop()`. (For a `with` block, use
    `FakeBotApi(enforce_limits=True)` itself: entering starts it.)"""
    api = FakeBotApi(token=token, username=username, enforce_limits=enforce_limits)
    api.start()
    return api


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.telegram_sink", description=__doc__)
    parser.add_argument("--no-limits", action="store_true", help="never answer 429")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    api = start_fake_api(enforce_limits=not args.no_limits, token=args.token)
    try:
        print(f"READY {api.base_url} token={api.token}", flush=True)
        shown = 0
        while not stop.wait(0.2):
            for message in api.sent[shown:]:
                print(f"{message.chat_id}\t{message.parse_mode or '-'}\t{message.text!r}")
                shown += 1
            sys.stdout.flush()
        print(f"COUNT {len(api.sent)} {api.rate_limited}", flush=True)
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
