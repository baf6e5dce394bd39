"""`notifier status`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from notifier.cli.shell import print_json, run_with_store, say, table

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.store.engine import Store


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The store, the outbox by status and channel, the next digests, the workers (heartbeat,
    what each holds), channels that wait, recent errors."""
    from notifier.status import read_status  # loads the digest planner: only here
    from notifier.store.models import utcnow

    async def job(store: Store, _: Settings) -> None:
        now = utcnow()
        s = await read_status(store, now=now)
        if as_json:
            print_json(
                {
                    "store": store.location,
                    "outbox": [{"channel": c, "status": st, "count": n} for c, st, n in s.outbox],
                    "watch": {"cursor": s.watch_cursor, "latest_update": s.latest_update},
                    "next_digests": [{"what": w, "at": t.isoformat()} for w, t in s.next_digests],
                    "telegram": {
                        "blocked_chats": s.blocked_chats,
                        "removed_groups": s.removed_groups,
                    },
                    "channels": [
                        {
                            "name": n,
                            "paused_until": p.isoformat() if p else None,
                            "note": note,
                        }
                        for n, p, note in s.channels
                    ],
                    "workers": [
                        {
                            "id": w.id,
                            "host": w.host,
                            "pid": w.pid,
                            "role": w.role,
                            "version": w.version,
                            "started_at": w.started_at.isoformat(),
                            "heartbeat_age_s": round((now - w.heartbeat_at).total_seconds(), 1),
                            "holding": w.holding,
                        }
                        for w in s.workers
                    ],
                    "recent_errors": [
                        {"id": i, "channel": c, "status": st, "error": e}
                        for i, c, st, e in s.recent_errors
                    ],
                }
            )
            return
        say(f"store: {store.location}")
        table("outbox", ["channel", "status", "messages"], [list(r) for r in s.outbox])
        behind = s.latest_update - s.watch_cursor
        say(
            f"watch: at update {s.watch_cursor} of {s.latest_update}"
            + (f" ({behind} to match)" if behind else "")
        )
        table(
            "next digests",
            ["digest", "at (UTC)"],
            [[w, f"{t:%a %Y-%m-%d %H:%M}"] for w, t in s.next_digests],
        )
        if s.blocked_chats or s.removed_groups:
            say(
                f"telegram: {s.blocked_chats} chat(s) blocked the bot, "
                f"removed from {s.removed_groups} group(s)"
            )
        if s.workers:
            table(
                "workers",
                ["id", "host", "pid", "role", "version", "heartbeat", "holding"],
                [
                    [w.id, w.host, w.pid, w.role, w.version,
                     f"{(now - w.heartbeat_at).total_seconds():.1f}s ago", w.holding]
                    for w in s.workers
                ],
            )  # fmt: skip
        else:
            say("workers: none running")
        for name, paused, note in s.channels:
            if paused is not None:
                say(f"channel {name}: PAUSED until {paused:%H:%M:%S} UTC — {note}")
            elif note:
                say(f"channel {name}: {note}")
        if s.recent_errors:
            table(
                "recent errors",
                ["id", "channel", "status", "error"],
                [list(r) for r in s.recent_errors],
            )

    run_with_store(ctx, job)
