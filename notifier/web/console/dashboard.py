"""The Dashboard (every role): notifier.app.dashboard's figures as a page. Health, the outbox
by status and channel, the next digests, and the last 30 days as bar charts drawn on the
server (inline SVG: no script, which the console's content policy forbids anyway), each with
its numbers in words and the whole in a table, so that nobody needs to tell colours apart or
see the bars at all. A coordinator sees their lists' version (no outbox, no messages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from notifier import app as tasks
from notifier.app import sessions
from notifier.app.dashboard import Dashboard, Day
from notifier.domain.actors import Area
from notifier.web.console.access import console_page, need, state_of

router = APIRouter(include_in_schema=False)
Reader = Annotated[sessions.SignedIn, Depends(need(Area.DASHBOARD))]

#: The charts' drawing box (SVG user units): one slot per day, bars with a gap between.
WIDTH, HEIGHT, SLOT_GAP = 300.0, 80.0, 2.0
#: Room kept above the tallest bar.
HEADROOM = 4.0
CHANNEL_WORDS = {"email": "by email", "telegram": "on Telegram"}


@dataclass(frozen=True)
class Bar:
    day: date
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    """One series over the days: its bars in the drawing box, and its figures in words."""

    key: str
    title: str
    #: What one unit is, for each bar's tooltip: "12 joined".
    noun: str
    total: int
    peak: int
    peak_day: date | None
    bars: tuple[Bar, ...]
    first: date | None
    last: date | None

    @property
    def summary(self) -> str:
        """The chart in one sentence (its accessible name's second half)."""
        if not self.bars:
            return "no days to show"
        if self.peak == 0:
            return f"none in the last {len(self.bars)} days"
        assert self.peak_day is not None
        return (
            f"{self.total:,} in the last {len(self.bars)} days; "
            f"the most on one day {self.peak:,}, on {self.peak_day.isoformat()}"
        )


def chart(key: str, title: str, noun: str, days: list[tuple[date, int]]) -> Chart:
    """A bar chart of `days` (oldest first), scaled so the tallest bar nearly fills the box;
    a zero is drawn as no bar (the baseline stays)."""
    peak = max((n for _, n in days), default=0)
    slot = WIDTH / max(len(days), 1)
    room = HEIGHT - HEADROOM
    bars = []
    for i, (day, n) in enumerate(days):
        height = round(room * n / peak, 2) if peak else 0.0
        if n and height < 1:
            height = 1.0  # a day with anything at all shows
        bars.append(
            Bar(day, n, round(i * slot + SLOT_GAP / 2, 2), round(HEIGHT - height, 2),
                round(slot - SLOT_GAP, 2), height)
        )  # fmt: skip
    peak_day = next((d for d, n in days if n == peak), None) if peak else None
    return Chart(
        key=key,
        title=title,
        noun=noun,
        total=sum(n for _, n in days),
        peak=peak,
        peak_day=peak_day,
        bars=tuple(bars),
        first=days[0][0] if days else None,
        last=days[-1][0] if days else None,
    )


def charts_of(board: Dashboard) -> list[Chart]:
    """People first (joined, left, bounced), then messages per channel (sent, failed): one
    chart a series, so no chart asks anyone to tell two colours apart."""
    days = list(board.days)
    found = [
        chart("joined", "Subscribers joined", "joined", [(d.day, d.joined) for d in days]),
        chart("left", "Subscribers left", "left", [(d.day, d.left) for d in days]),
    ]
    if days and days[0].bounced is not None:
        found.append(
            chart("bounced", "Addresses bounced", "bounced",
                  [(d.day, d.bounced or 0) for d in days])
        )  # fmt: skip
    for metric, word in (("sent", "sent"), ("failed", "failed")):
        for channel in channels_of(days):
            found.append(
                chart(
                    f"{metric}-{channel}",
                    f"Messages {word} {CHANNEL_WORDS.get(channel, 'by ' + channel)}",
                    word,
                    [(d.day, _by(d, metric, channel)) for d in days],
                )
            )
    return found


def channels_of(days: list[Day]) -> list[str]:
    """The channels the days count messages for (none for a coordinator)."""
    if not days or days[0].sent is None:
        return []
    return list(days[0].sent)


def _by(day: Day, metric: str, channel: str) -> int:
    counts = day.sent if metric == "sent" else day.failed
    return (counts or {}).get(channel, 0)


@router.get("/admin/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, signed: Reader) -> Response:
    state = state_of(request)
    board = await tasks.dashboard(state.store, state.settings, signed.actor)
    return console_page(
        request,
        signed,
        "dashboard",
        board=board,
        charts=charts_of(board),
        channels=channels_of(list(board.days)),
        channel_words=CHANNEL_WORDS,
        my_lists=sorted(signed.actor.lists),
        box=f"0 0 {WIDTH:g} {HEIGHT:g}",
        height=HEIGHT,
    )
