"""The audit log: every write of the application layer leaves exactly one entry, in its own
transaction (a write refused or rolled back leaves none), naming who made it (the CLI's
operating-system user, the configured API token, a user's own token) and what changed; owners
read it with `notifier audit list` and GET /api/audit. And the per-user API tokens themselves."""

from __future__ import annotations

import getpass
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from notifier import app as tasks
from notifier.config import Settings
from notifier.domain import Consent, Role, SubscriberStatus
from notifier.domain.actors import Actor
from notifier.domain.subscriber_specs import SubscriberSpec
from notifier.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.ingest.list_files import load_list_files
from notifier.service import Pipeline
from notifier.store.engine import Store
from notifier.store.models import ApiToken, AuditEntry, Subscriber
from tests.helpers import AUTH, CHAIN, EXAMPLE_LISTS, PASTOR, Cli

BY = Actor.cli("tester")
EDITOR = Actor.user_token("laptop", "ed@example.org", Role.EDITOR, frozenset())


async def _entries(store: Store) -> list[AuditEntry]:
    async with store.read() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


class Log:
    """The audit log as it grows: `new()` is what was written since the last look."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen = 0

    async def new(self) -> list[AuditEntry]:
        found = await _entries(self.store)
        fresh, self.seen = found[self.seen :], len(found)
        return fresh

    async def one(self, action: str, target: str, by: Actor = BY) -> dict[str, Any]:
        """The one entry written since the last look: its action, target and actor checked;
        its summary returned."""
        fresh = await self.new()
        assert [(e.actor, e.action, e.target) for e in fresh] == [(by.label, action, target)]
        assert fresh[0].at.tzinfo is not None
        return fresh[0].summary

    async def none(self) -> None:
        assert await self.new() == []


async def test_each_write_leaves_one_entry_and_a_refused_write_none(
    store: Store, settings: Settings
) -> None:
    log = Log(store)
    cases = load_case_files(sample_case_files())
    await tasks.import_cases(store, cases, by=BY, dry_run=True)
    await log.none()
    await tasks.import_cases(store, cases, by=BY)
    summary = await log.one("case.import", ", ".join(c.slug for c in cases))
    assert PASTOR in summary["after"]["created"]

    lists = load_list_files([EXAMPLE_LISTS])
    await tasks.apply_lists(store, settings, lists, by=BY)
    summary = await log.one("list.apply", CHAIN)
    assert summary["after"][CHAIN]["created"] is True
    assert "anna.petrova@example.org" in summary["after"][CHAIN]["members_added"]

    await tasks.add_member(store, settings, CHAIN, "m@example.org", by=BY, where="t",
                           consent=Consent.CLI)  # fmt: skip
    summary = await log.one("list.add-member", f"{CHAIN}: m@example.org")
    assert summary["after"] == {"member": "m@example.org", "joined": True, "created": True}
    with pytest.raises(NotFoundError):
        await tasks.add_member(store, settings, "no-list", "x@example.org", by=BY, where="t",
                               consent=Consent.CLI)  # fmt: skip
    await log.none()

    form = tasks.SubscriberForm("anna@example.org", follows=[tasks.FollowEntry("country=KZ")])
    entry = tasks.check_subscriber(form, where="t")
    await tasks.add_subscriber(store, settings, entry, by=BY, consent=Consent.CLI)
    summary = await log.one("subscriber.add", "anna@example.org")
    assert "before" not in summary
    assert summary["after"]["follows"] == "country=KZ:instant:email"
    renamed = tasks.check_subscriber(
        tasks.SubscriberForm("anna@example.org", name="Anna"), where="t"
    )
    await tasks.add_subscriber(store, settings, renamed, by=BY, consent=Consent.CLI)
    summary = await log.one("subscriber.add", "anna@example.org")
    assert summary == {"before": {"name": ""}, "after": {"name": "Anna"}}

    until = datetime(2099, 1, 1, tzinfo=UTC)
    await tasks.pause_subscriber(store, "anna@example.org", until, by=BY)
    summary = await log.one("subscriber.pause", "anna@example.org")
    assert summary == {
        "before": {"paused_until": None},
        "after": {"paused_until": until.isoformat()},
    }
    await tasks.pause_subscriber(store, "anna@example.org", None, by=BY)
    summary = await log.one("subscriber.resume", "anna@example.org")
    assert summary["after"] == {"paused_until": None}

    with pytest.raises(ConflictError):  # not bounced: nothing to reactivate
        await tasks.reactivate_subscriber(store, "anna@example.org", by=BY, where="t")
    await log.none()
    async with store.transaction() as session:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.email == "anna@example.org")
            .values(status=SubscriberStatus.BOUNCED)
        )
    await tasks.reactivate_subscriber(store, "anna@example.org", by=BY, where="t")
    summary = await log.one("subscriber.reactivate", "anna@example.org")
    assert summary == {"before": {"status": "bounced"}, "after": {"status": "active"}}

    assert await tasks.leave_list(store, "m@example.org", CHAIN, by=BY)
    summary = await log.one("subscriber.leave-list", f"m@example.org from {CHAIN}")
    assert summary == {"before": {"member": True}, "after": {"member": False}}
    await tasks.remove_subscriber(store, "anna@example.org", by=BY)
    summary = await log.one("subscriber.remove", "anna@example.org")
    assert summary == {"before": {"status": "active"}, "after": {"status": "unsubscribed"}}
    async with store.read() as session:
        erased_id = await session.scalar(
            select(Subscriber.id).where(Subscriber.email == "m@example.org")
        )
    await tasks.remove_subscriber(store, "m@example.org", by=BY, erase=True)
    # Erased: the entry keeps their number, not who they were.
    summary = await log.one("subscriber.erase", f"subscriber {erased_id}")
    assert summary == {}

    spec = SubscriberSpec(where="t", email="new@example.org", name="New")
    await tasks.import_subscribers(store, settings, [spec], by=BY, mailing_list=CHAIN)
    summary = await log.one("subscriber.import", CHAIN)
    assert summary["after"] == {"created": 1, "updated": 0, "joined_list": 1, "skipped": 0}

    news = await tasks.add_update(store, "kashkumbaev", by=BY, day=date(2026, 3, 1),
                                  title="Apeal heard")  # fmt: skip
    target = f"update {news.id} ({PASTOR})"
    summary = await log.one("update.add", target)
    assert summary["after"]["title"] == "Apeal heard"
    assert summary["after"]["urgent"] is False
    await tasks.correct_update(store, news.id, by=BY, where="t", title="Appeal heard", urgent=True)
    summary = await log.one("update.correct", target)
    assert summary == {
        "before": {"title": "Apeal heard", "urgent": False},
        "after": {"title": "Appeal heard", "urgent": True},
    }
    await tasks.withdraw_update(store, news.id, by=BY)
    summary = await log.one("update.withdraw", target)
    assert summary["before"] == {"withdrawn": False}
    assert summary["after"]["withdrawn"] is True
    with pytest.raises(ConflictError):
        await tasks.correct_update(store, news.id, by=BY, where="t", title="Too late")
    with pytest.raises(NotFoundError):
        await tasks.withdraw_update(store, 999_999, by=BY)
    await log.none()

    assert await tasks.retry_messages(store, by=BY, failed=True) == 0
    assert (await log.one("outbox.retry", "failed"))["after"] == {"queued": 0}
    with pytest.raises(ForbiddenError, match="may not change outbox"):
        await tasks.retry_messages(store, by=EDITOR, failed=True)
    await log.none()

    await tasks.add_user(store, "ed@example.org", "editor", by=BY, where="t")
    summary = await log.one("user.add", "ed@example.org")
    assert summary["after"] == {"role": "editor", "lists": [], "password": "not set"}
    with pytest.raises(NotFoundError):
        await tasks.add_user(store, "co@example.org", "coordinator", ["nope"], by=BY, where="t")
    with pytest.raises(ConflictError):
        await tasks.add_user(store, "ed@example.org", "owner", by=BY, where="t")
    await log.none()
    await tasks.set_role(store, "ed@example.org", "coordinator", [CHAIN], by=BY, where="t")
    summary = await log.one("user.set-role", "ed@example.org")
    assert summary == {
        "before": {"role": "editor", "lists": []},
        "after": {"role": "coordinator", "lists": [CHAIN]},
    }
    coordinator = Actor.user_token("laptop", "ed@example.org", Role.COORDINATOR, frozenset([CHAIN]))
    row, _ = await tasks.create_token(store, coordinator, "laptop")
    assert (await log.one("token.create", "laptop (ed@example.org)", coordinator)) == {
        "after": {"name": "laptop"}
    }
    await tasks.revoke_token(store, coordinator, row.id)
    await log.one("token.revoke", "laptop (ed@example.org)", coordinator)
    await tasks.remove_user(store, "ed@example.org", by=BY)
    summary = await log.one("user.remove", "ed@example.org")
    assert summary["before"]["role"] == "coordinator"
    with pytest.raises(NotFoundError):
        await tasks.remove_user(store, "ed@example.org", by=BY)
    await log.none()


async def test_owners_read_the_log_others_are_refused(store: Store) -> None:
    for n in range(5):
        await tasks.add_user(store, f"u{n}@example.org", "editor", by=BY, where="t")
    await tasks.add_user(store, "o@example.org", "owner", by=Actor.configured_token(), where="t")
    rows = await tasks.audit_entries(store, BY, limit=3)
    assert [r.target for r in rows] == ["o@example.org", "u4@example.org", "u3@example.org"]
    older = await tasks.audit_entries(store, BY, before_id=rows[-1].id, limit=10)
    assert [r.target for r in older] == ["u2@example.org", "u1@example.org", "u0@example.org"]
    mine = await tasks.audit_entries(store, BY, actor="api-token")
    assert [(r.actor, r.action) for r in mine] == [("api-token", "user.add")]
    assert await tasks.audit_entries(store, BY, since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert rows[0].change_summary() == "role='owner'; lists=[]; password='not set'"
    with pytest.raises(ForbiddenError, match="may not see audit"):
        await tasks.audit_entries(store, EDITOR)
    with pytest.raises(InputError, match="limit"):
        await tasks.audit_entries(store, BY, limit=0)


async def test_tokens_are_shown_once_kept_hashed_and_named_well(store: Store) -> None:
    await tasks.add_user(store, "ed@example.org", "editor", by=BY, where="t")
    await tasks.add_user(store, "own@example.org", "owner", by=BY, where="t")
    editor = Actor.console_user("ed@example.org", Role.EDITOR, frozenset())
    owner = Actor.console_user("own@example.org", Role.OWNER, frozenset())
    row, clear = await tasks.create_token(store, editor, " script ")
    assert clear.startswith("ntf_")
    assert len(clear) > 40
    assert (row.name, row.user, row.last_used_at) == ("script", "ed@example.org", None)
    async with store.read() as session:
        kept = (await session.scalars(select(ApiToken))).one()
    assert kept.token_hash == hashlib.sha256(clear.encode()).hexdigest()
    for bad, why in [("", "needs a name"), ("x" * 101, "at most 100"), ("a\x00b", "NUL")]:
        with pytest.raises(InputError, match=why):
            await tasks.create_token(store, editor, bad)
    with pytest.raises(ConflictError, match="already"):
        await tasks.create_token(store, editor, "script")
    other, _ = await tasks.create_token(store, owner, "script")  # a name is per user
    with pytest.raises(ForbiddenError):
        await tasks.create_token(store, BY, "cli")  # the CLI is no console user
    assert [t.name for t in await tasks.tokens(store, editor)] == ["script"]
    assert [t.user for t in await tasks.tokens(store, owner)] == [
        "own@example.org",
        "ed@example.org",
    ]
    with pytest.raises(NotFoundError):
        await tasks.revoke_token(store, editor, other.id)  # not theirs: not said to exist
    now = datetime.now(UTC)
    actor = await tasks.token_actor(store, clear, now=now)
    assert actor == Actor.user_token("script", "ed@example.org", Role.EDITOR, frozenset())
    assert (await tasks.tokens(store, editor))[0].last_used_at == now
    await tasks.token_actor(store, clear, now=now + timedelta(seconds=30))
    assert (await tasks.tokens(store, editor))[0].last_used_at == now  # not a write each time
    await tasks.token_actor(store, clear, now=now + timedelta(minutes=2))
    assert (await tasks.tokens(store, editor))[0].last_used_at == now + timedelta(minutes=2)
    assert await tasks.token_actor(store, clear + "x", now=now) is None
    await tasks.revoke_token(store, owner, row.id)  # an owner may revoke anyone's
    assert await tasks.token_actor(store, clear, now=now) is None


def test_the_clis_entries_say_cli_and_its_os_user(cli: Cli) -> None:
    cli.ok("lists", "apply", str(EXAMPLE_LISTS))
    cli.ok("users", "add", "ed@example.org", "--role", "editor")
    cli.ok("users", "set-role", "ed@example.org", "--role", "coordinator", "--list", CHAIN)
    listed = json.loads(cli.ok("audit", "list", "--json").stdout)
    me = f"cli:{getpass.getuser()}"
    assert [(e["actor"], e["action"], e["target"]) for e in listed] == [
        (me, "user.set-role", "ed@example.org"),
        (me, "user.add", "ed@example.org"),
        (me, "list.apply", CHAIN),
    ]
    assert listed[0]["before"] == {"role": "editor", "lists": []}
    table = cli.ok("audit", "list", "--limit", "2").stdout
    assert "user.set-role" in table
    assert "list.apply" not in table
    assert "role: 'editor' → 'coordinator'" in table
    assert datetime.now(UTC).date().isoformat() in table
    future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert json.loads(cli.ok("audit", "list", "--since", future, "--json").stdout) == []
    by_actor = cli.ok("audit", "list", "--actor", "api-token", "--json").stdout
    assert json.loads(by_actor) == []
    bad = cli("audit", "list", "--since", "last tuesday")
    assert bad.exit_code == 1
    assert "--since" in bad.stderr
    assert "Traceback" not in bad.stderr
    too_many = cli("audit", "list", "--limit", "0")
    assert too_many.exit_code == 2
    assert "--limit" in too_many.stderr
    assert "Traceback" not in too_many.stderr


async def test_the_apis_entries_say_which_token(api: tuple[Pipeline, httpx.AsyncClient]) -> None:
    p, client = api
    posted = await client.post(
        "/api/cases/kashkumbaev/updates", json={"title": "Appeal heard"}, headers=AUTH
    )
    assert posted.status_code == 201
    await tasks.add_user(p.store, "ed@example.org", "editor", by=BY, where="t")
    editor = Actor.console_user("ed@example.org", Role.EDITOR, frozenset())
    _, clear = await tasks.create_token(p.store, editor, "newsroom")
    mine = {"Authorization": f"Bearer {clear}"}
    update_id = posted.json()["id"]
    fixed = await client.patch(f"/api/updates/{update_id}", json={"title": "Hearing"}, headers=mine)
    assert fixed.status_code == 200
    log = (await client.get("/api/audit", headers=AUTH)).json()
    assert [(e["actor"], e["action"]) for e in log[:4]] == [
        ("token:newsroom (ed@example.org)", "update.correct"),
        ("user:ed@example.org", "token.create"),
        ("cli:tester", "user.add"),
        ("api-token", "update.add"),
    ]
    assert log[0]["before"] == {"title": "Appeal heard"}
    refused = await client.get("/api/audit", headers=mine)
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "token:newsroom (ed@example.org) (editor) may not see audit",
        "detail": [],
    }
    for bad_query in ({"limit": 0}, {"since": "0.5"}, {"since": "2026-05-01"}):
        bad = await client.get("/api/audit", params=bad_query, headers=AUTH)
        assert bad.status_code == 422, bad_query
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await client.get("/api/audit", params={"since": later}, headers=AUTH)).json() == []
