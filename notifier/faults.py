"""Crash points for tests: `NOTIFIER_CRASH_AT=<name>` makes the process die at once (exit 86,
no cleanup, like a kill -9) when it reaches that checkpoint. Names are listed in CHECKPOINTS."""

from __future__ import annotations

import os

CHECKPOINTS = (
    "watch.before_commit",
    "digest.before_commit",
    "deliver.after_claim",
    "deliver.after_answer",
    "deliver.after_send",
    "deliver.after_record",
)
CRASH_EXIT_CODE = 86


def checkpoint(name: str) -> None:
    if os.environ.get("NOTIFIER_CRASH_AT") == name:
        os._exit(CRASH_EXIT_CODE)
