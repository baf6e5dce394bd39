"""`/healthz` (store reachable, scheduler alive) and `/metrics` (Prometheus text)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from notifier.store.cursors import WATCH_CURSOR
from notifier.store.models import Cursor, OutboxMessage
from notifier.web.state import WebState

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    state: WebState = request.app.state.notifier
    checks: dict[str, str] = {}
    try:
        async with state.store.read() as session:
            await session.execute(text("SELECT 1"))
        checks["store"] = "ok"
    except Exception as exc:  # any failure means unhealthy; say which kind
        checks["store"] = f"unreachable: {type(exc).__name__}"
    if state.scheduler_alive is not None:
        checks["scheduler"] = "ok" if state.scheduler_alive() else "stopped"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"ok": healthy, **checks}, status_code=200 if healthy else 503)


class _Snapshot(Collector):
    """Metrics read from the store at scrape time (any process may have done the sending)."""

    def __init__(self, rows: list[tuple[str, str, int]], last_watch: float | None) -> None:
        self.rows = rows
        self.last_watch = last_watch

    def collect(self) -> Iterator[GaugeMetricFamily]:
        outbox = GaugeMetricFamily(
            "notifier_outbox_messages", "Messages in the outbox", labels=["channel", "status"]
        )
        for channel, status, count in self.rows:
            outbox.add_metric([channel, status], count)
        yield outbox
        watch = GaugeMetricFamily(
            "notifier_last_watch_timestamp_seconds", "When the watcher last moved its cursor"
        )
        if self.last_watch is not None:
            watch.add_metric([], self.last_watch)
        yield watch


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    state: WebState = request.app.state.notifier
    async with state.store.read() as session:
        rows = [
            (c.value, s.value, n)
            for c, s, n in await session.execute(
                select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
                    OutboxMessage.channel, OutboxMessage.status
                )
            )
        ]
        watched = await session.scalar(select(Cursor.updated_at).where(Cursor.name == WATCH_CURSOR))
    registry = CollectorRegistry()
    registry.register(_Snapshot(rows, watched.timestamp() if watched else None))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
