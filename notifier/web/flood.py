"""Sign-up requests are rate limited per address and per client: sliding windows kept in the
process (the web app runs in one process per deployment)."""

from __future__ import annotations

import time
from collections import deque


class SlidingWindow:
    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._hits: dict[str, deque[float]] = {}

    def full(self, key: str, *, now: float | None = None) -> bool:
        """Whether `key` has used up its hits (nothing is counted)."""
        moment = time.monotonic() if now is None else now
        hits = self._hits.get(key)
        if not hits:
            return False
        while hits and hits[0] <= moment - self.seconds:
            hits.popleft()
        return len(hits) >= self.limit

    def allow(self, key: str, *, now: float | None = None) -> bool:
        """Count a hit for `key`; False if it is over the limit (the hit is not counted)."""
        moment = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= moment - self.seconds:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(moment)
        if len(self._hits) > 100_000:  # forget the quiet ones
            for stale in [k for k, v in self._hits.items() if not v]:
                del self._hits[stale]
        return True
