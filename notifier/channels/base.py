"""What every channel is: a Sender that takes messages (notifier.domain.messages) and gives
back a Result for each, reported as it comes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from notifier.domain.messages import Outgoing, Result


@dataclass(frozen=True)
class Limits:
    """How the deliverer feeds a channel (the channel paces its own sends)."""

    #: The most messages to claim at once (None: the `deliver_batch` setting). Results are
    #: recorded as they come back, so this bounds how long a batch holds its claims, not what
    #: a crash sends twice.
    batch_size: int | None = None


class Report(Protocol):
    """Takes each message's result the moment it is known. The future it returns is done once
    the result is recorded in the store: a sender that waits on it before letting a later
    message go bounds what a crash sends twice to what is on the wire. Results are written in
    groups, gathered for a moment; `hurry` says a sender is waiting, so the group goes now."""

    def __call__(self, result: Result) -> asyncio.Future[None]: ...

    def hurry(self) -> None: ...


class Results(list[Result]):
    """The results of one `send`, each reported as it is added. With `group`, every that many
    results are sent to be written at once: a sender that will wait on records (so many back)
    has them written before it needs them, in groups big enough to be cheap."""

    def __init__(self, report: Report | None, *, group: int | None = None) -> None:
        super().__init__()
        self._report = report
        self._group = group
        self._ungrouped = 0

    def add(self, result: Result) -> asyncio.Future[None] | None:
        self.append(result)
        if self._report is None:
            return None
        recorded = self._report(result)
        if self._group is not None:
            self._ungrouped += 1
            if self._ungrouped >= self._group:
                self._ungrouped = 0
                self._report.hurry()
        return recorded

    def add_all(self, results: Sequence[Result]) -> asyncio.Future[Any] | None:
        """`add` each; one future, done once all of them are recorded."""
        futures = [f for f in map(self.add, results) if f is not None]
        if not futures:
            return None
        together = asyncio.gather(*futures)
        # A failed record surfaces where the batch is closed; no warning for this copy of it.
        together.add_done_callback(lambda f: f.cancelled() or f.exception())
        return together

    async def recorded(self, future: asyncio.Future[Any]) -> None:
        """Wait until a result `add` gave this future for is in the store (raises if it could
        not be written), asking for the write to go at once."""
        if not future.done() and self._report is not None:
            self._report.hurry()
        await asyncio.shield(future)


@dataclass
class ChannelState:
    """What `notifier status` shows about a channel (paused after repeated failures, …)."""

    paused_until: float | None = None
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Sender(Protocol):
    name: str
    limits: Limits
    state: ChannelState

    async def send(
        self, messages: Sequence[Outgoing], report: Report | None = None
    ) -> list[Result]:
        """Send each message; one result per message, in any order, each given to `report` as
        soon as it is known, and all returned at the end. Never raises for one bad message:
        its result says what happened. If a report's future fails (the store is gone), stop
        sending and let that error out."""
        ...

    async def close(self) -> None: ...
