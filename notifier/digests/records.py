"""What building a digest writes: bodies (content-addressed), outbox rows, digest cursors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.render.messages import RenderedBody
from notifier.store.models import Body, BodyUpdate, DigestCursor, OutboxMessage, utcnow
from notifier.store.upsert import insert_for


@dataclass
class DigestReport:
    digests: int = 0  # digests (lists or subscribers) whose period was built
    messages: int = 0  # outbox rows written
    bodies: int = 0  # distinct bodies rendered
    empty: int = 0  # digests with nothing new: nothing sent
    details: list[str] = field(default_factory=list)

    def add(self, part: DigestReport) -> None:
        self.digests += part.digests
        self.messages += part.messages
        self.bodies += part.bodies
        self.empty += part.empty
        self.details += part.details


async def store_bodies(
    session: AsyncSession,
    bodies: Sequence[RenderedBody],
    updates: Mapping[str, Sequence[int]],
) -> dict[str, int]:
    """Store the bodies not stored yet (content-addressed), with the updates each holds
    (`updates` by body digest); their ids by digest. A few statements per call, however many
    bodies."""
    if not bodies:
        return {}
    now = utcnow()
    unique = {b.digest: b for b in bodies}
    rows = [
        {
            "digest": b.digest,
            "channel": b.channel.value,
            "subject": b.subject,
            "text": b.text,
            "html": b.html,
            "web_html": b.web_html,
            "created_at": now,
        }
        for b in unique.values()
    ]
    stmt = insert_for(session, Body).on_conflict_do_nothing()
    await session.execute(stmt, rows)
    ids: dict[str, int] = {}
    digests = list(unique)
    for start in range(0, len(digests), 500):
        chunk = digests[start : start + 500]
        found = await session.execute(select(Body.digest, Body.id).where(Body.digest.in_(chunk)))
        ids.update({digest: body_id for digest, body_id in found})
    links = [
        {"body_id": ids[digest], "update_id": update_id}
        for digest in unique
        for update_id in updates.get(digest, ())
    ]
    if links:
        stmt = insert_for(session, BodyUpdate).on_conflict_do_nothing()
        await session.execute(stmt, links)
    return ids


async def store_body(session: AsyncSession, body: RenderedBody, updates: Sequence[int]) -> int:
    """The id of the stored body with this content (holding these updates), storing it if new."""
    return (await store_bodies(session, [body], {body.digest: updates}))[body.digest]


async def save_cursors(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    if not rows:
        return
    stmt = insert_for(session, DigestCursor)
    stmt = stmt.on_conflict_do_update(
        index_elements=["digest_key"],
        set_={
            "period": stmt.excluded.period,
            "through_update_id": stmt.excluded.through_update_id,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    await session.execute(stmt, list(rows))


async def insert_outbox(session: AsyncSession, rows: Sequence[Mapping[str, object]]) -> int:
    if not rows:
        return 0
    stmt = insert_for(session, OutboxMessage).on_conflict_do_nothing()
    await session.execute(stmt, rows)
    return len(rows)
