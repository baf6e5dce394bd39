"""Updates after they were entered: correcting one reaches every alert not yet sent (also in a
process that already rendered it) and every digest not yet built; withdrawing one stops what
has not gone and leaves it out of digests and case pages, for good."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sql_update

from notifier.bot.case_pages import case_page
from notifier.config import Settings
from notifier.digests import plan_digests
from notifier.domain import OutboxStatus
from notifier.service import pipeline
from notifier.store.cases import get_case
from notifier.store.engine import open_store
from notifier.store.models import OutboxMessage, Update
from notifier.store.updates import edit_update, get_update, withdraw_update
from notifier.watch import watch_once
from tests.helpers import (
    CHAIN,
    KZ,
    ROOT,
    Cli,
    maildir,
    new_update,
    next_weekly,
    seed,
    subscribe,
    text_of,
)

PASTOR = "kashkumbaev"


def added_id(output: str) -> int:
    found = re.search(r"added update (\d+)", output)
    assert found, output
    return int(found[1])


def subjects(settings: Settings) -> list[str]:
    return sorted(str(m["Subject"]) for m in maildir(settings))


def test_correct_and_withdraw_from_the_cli(cli: Cli) -> None:
    cli.ok("cases", "import", "--sample")
    cli.ok("lists", "apply", str(ROOT / "subscribers"))
    cli.ok("subscribers", "add", "anna@example.org", "--follow-country", "KZ")
    add = ("updates", "add", PASTOR, "--source", "Forum 18", "--title")
    first = added_id(cli.ok(*add, "Apeal hearing set").stdout)
    cli.ok("run", "--once", "--quiet")  # watched and sent, typo and all
    second = added_id(cli.ok(*add, "Pastor released").stdout)
    listed = json.loads(cli.ok("updates", "list", "--json").stdout)
    assert [(u["id"], u["alerts"]) for u in listed[:2]] == [(second, {}), (first, {"sent": 1})]

    # The typo, corrected: what is still to come carries it; what went is not sent again.
    out = cli.ok("updates", "edit", str(first), "--title", "Appeal hearing set").stdout
    assert f"update {first} corrected (title): 0 alert(s) not yet sent carry it; 1 already" in out
    same = cli.ok("updates", "edit", str(first), "--title", "Appeal hearing set").stdout
    assert f"update {first}: nothing to change" in same

    # The wrong news, withdrawn before the next pass: nobody hears of it.
    out = cli.ok("updates", "withdraw", str(second)).stdout
    assert f"update {second} withdrawn: 0 alert(s) and 0 digest(s) not yet sent stopped" in out
    cli.ok("run", "--once", "--quiet")
    assert not any("released" in s for s in subjects(cli.settings))
    assert "was already withdrawn" in cli.ok("updates", "withdraw", str(second)).stdout
    assert "withdrawn" in cli.ok("updates", "list", PASTOR).stdout

    # The week's digest: the corrected title, and not the withdrawn update.
    cli.ok("digest", "send", "--list", CHAIN)
    digests = [m for m in maildir(cli.settings) if "prayer chain" in str(m["Subject"])]
    assert digests
    body = text_of(digests[0])
    assert "Appeal hearing set" in body
    assert "Apeal" not in body
    assert "Pastor released" not in body

    # Bad input is named, and changes nothing.
    refused = cli("updates", "edit", str(second), "--title", "Back again")
    assert refused.exit_code == 1
    assert f"updates edit [update]: update {second} was withdrawn" in refused.stderr
    assert "updates edit [title]: must not be empty" in (
        cli("updates", "edit", str(first), "--title", " ").stderr
    )
    assert "updates edit [--date]: 'soon' is not a date (YYYY-MM-DD)" in (
        cli("updates", "edit", str(first), "--date", "soon").stderr
    )
    assert "updates edit [url]: 'ftp://x' is not an http(s) link" in (
        cli("updates", "edit", str(first), "--url", "ftp://x").stderr
    )
    assert "no update 999999" in cli("updates", "withdraw", "999999").stderr
    too_long = cli(*add, "x" * 301, "--url", "https://example.org/" + "a" * 1000)
    assert too_long.exit_code == 1
    assert "updates add [title]: 301 characters; at most 300" in too_long.stderr
    assert "updates add [url]: 1,020 characters; at most 1,000" in too_long.stderr


def test_a_case_file_imported_again_does_not_bring_a_withdrawn_update_back(cli: Cli) -> None:
    cli.ok("cases", "import", "--sample")
    [history] = json.loads(cli.ok("updates", "list", PASTOR, "--json", "--limit", "1").stdout)
    cli.ok("updates", "withdraw", str(history["id"]))
    cli.ok("cases", "import", "--sample")
    [again] = json.loads(cli.ok("updates", "list", PASTOR, "--json", "--limit", "1").stdout)
    assert again["id"] == history["id"]
    assert again["withdrawn_at"] is not None


async def test_withdrawing_stops_queued_alerts_and_leaves_the_case_page(
    settings: Settings,
) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        for name in ("anna", "ben", "carla"):
            await subscribe(p, f"{name}@example.org", KZ)
        await new_update(p, title="Appeal hearing set")
        wrong = await new_update(p, title="Pastor released")
        await watch_once(p.store)  # six alerts queued, none sent
        async with p.store.transaction() as session:
            state = await get_update(session, wrong)
            assert state.waiting == 3
            assert (await withdraw_update(session, state)).alerts == 3
        report = await p.deliverer.drain()
        assert report.sent == 3
        async with p.store.read() as session:
            stopped = list(
                await session.scalars(
                    select(OutboxMessage.last_error).where(
                        OutboxMessage.update_id == wrong,
                        OutboxMessage.status == OutboxStatus.SUPPRESSED,
                    )
                )
            )
            page = await case_page(session, await get_case(session, PASTOR))
        assert stopped == ["update withdrawn"] * 3
        assert "Appeal hearing set" in page
        assert "Pastor released" not in page
    assert not any("released" in s for s in subjects(settings))


async def test_a_correction_reaches_alerts_a_running_deliverer_already_rendered(
    settings: Settings,
) -> None:
    """Anna's alert goes with the typo; then the correction; Ben's alert, composed by the same
    deliverer (which keeps rendered alerts), carries it."""
    one_at_a_time = settings.model_copy(update={"deliver_batch": 1})
    async with pipeline(one_at_a_time) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        await subscribe(p, "ben@example.org", KZ)
        update_id = await new_update(p, title="Apeal hearing set")
        await watch_once(p.store)
        assert (await p.deliverer.deliver_batch()).sent == 1
        async with p.store.transaction() as session:
            state = await get_update(session, update_id)
            assert state.waiting == 1
            assert await edit_update(session, state, title="Appeal hearing set") == ["title"]
        assert (await p.deliverer.deliver_batch()).sent == 1
    titles = subjects(settings)
    assert len(titles) == 2
    assert sum("Apeal hearing set" in t for t in titles) == 1  # the one that had gone
    assert sum("Appeal hearing set" in t for t in titles) == 1


async def test_a_correction_restarts_a_telegram_alert_that_went_out_in_part(
    settings: Settings,
) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        update_id = await new_update(p, title="Apeal hearing set")
        await watch_once(p.store)
        async with p.store.transaction() as session:
            row = await session.scalar(
                select(OutboxMessage).where(OutboxMessage.update_id == update_id)
            )
            assert row is not None
            row.status, row.parts_sent = OutboxStatus.RETRY, 1  # one part went, then a failure
        async with p.store.transaction() as session:
            state = await get_update(session, update_id)
            await edit_update(session, state, title="Appeal hearing set")
        async with p.store.read() as session:
            assert (
                await session.scalar(
                    select(OutboxMessage.parts_sent).where(OutboxMessage.update_id == update_id)
                )
                == 0
            )


async def test_withdrawing_stops_the_digests_already_built_that_hold_it(
    settings: Settings,
) -> None:
    """The weekly digests were built at 07:00 and wait to go; at 07:02 an update in them is
    withdrawn (it names a witness). Those digests are stopped, the list's and the reader's
    own; the other news in them comes in next week's digest; the withdrawn one never goes."""
    from notifier.domain import Cadence, Scope
    from notifier.domain.subscriber_specs import FollowSpec

    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "w@example.org", FollowSpec(Scope.COUNTRY, "KZ", Cadence.WEEKLY))
        await new_update(p, title="Hearing set for Friday")
        wrong = await new_update(p, title="Names a witness")
        first = next_weekly(datetime.now(UTC))
        assert (await plan_digests(p.store, p.renderer, now=first)).messages == 1
        async with p.store.transaction() as session:
            stopped = await withdraw_update(session, await get_update(session, wrong))
        assert (stopped.alerts, stopped.digests) == (0, 1)
        assert (await p.deliverer.drain(now=first)).sent == 0
        second = next_weekly(first)
        assert (await plan_digests(p.store, p.renderer, now=second)).messages == 1
        await p.deliverer.drain(now=second)
    [digest] = [text_of(m) for m in maildir(settings)]
    assert "Hearing set for Friday" in digest
    assert "Names a witness" not in digest


async def test_withdrawing_stops_a_prayer_chains_digest_and_its_news_comes_next_week(
    settings: Settings,
) -> None:
    def due_after(moment: datetime) -> datetime:  # the example chain: Mondays, Almaty time
        return next_weekly(moment, "Asia/Almaty")

    async with pipeline(settings) as p:
        await seed(p)
        await new_update(p, title="Hearing set for Friday")
        wrong = await new_update(p, title="Names a witness")
        first = due_after(datetime.now(UTC))
        assert (await plan_digests(p.store, p.renderer, now=first)).messages == 4
        async with p.store.transaction() as session:
            stopped = await withdraw_update(session, await get_update(session, wrong))
        assert stopped.digests == 4
        assert (await p.deliverer.drain(now=first)).sent == 0
        second = due_after(first)
        assert (await plan_digests(p.store, p.renderer, now=second)).messages == 4
        await p.deliverer.drain(now=second)
    digests = [text_of(m) for m in maildir(settings)]
    assert len(digests) == 4
    assert all("Hearing set for Friday" in d and "Names a witness" not in d for d in digests)


async def test_a_pruned_body_leaves_no_links_for_a_new_body_with_its_id(
    settings: Settings,
) -> None:
    """Pruning deletes old bodies and their links to updates; else a new body given the same
    id (SQLite) would seem to hold old news, and a withdrawal would rewind to it."""
    from sqlalchemy import func

    from notifier.domain import Cadence, Scope
    from notifier.domain.subscriber_specs import FollowSpec
    from notifier.store.models import BodyUpdate
    from notifier.store.outbox import prune

    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "w@example.org", FollowSpec(Scope.COUNTRY, "KZ", Cadence.WEEKLY))
        await new_update(p, title="Old news")
        first = next_weekly(datetime.now(UTC))
        await plan_digests(p.store, p.renderer, now=first)
        await p.deliverer.drain(now=first)
        async with p.store.transaction() as session:  # long after: outbox and bodies pruned
            await prune(session, before=first + timedelta(days=1000))
            assert await session.scalar(select(func.count()).select_from(BodyUpdate)) == 0
        await new_update(p, title="Fresh news")
        wrong = await new_update(p, title="Names a witness")
        second = next_weekly(first)
        await plan_digests(p.store, p.renderer, now=second)
        async with p.store.transaction() as session:
            await withdraw_update(session, await get_update(session, wrong))
        third = next_weekly(second)
        await plan_digests(p.store, p.renderer, now=third)
        await p.deliverer.drain(now=third)
    [last] = [text_of(m) for m in maildir(settings) if "Fresh news" in text_of(m)]
    assert "Old news" not in last


def test_a_correction_is_kept_when_its_case_file_is_imported_again(
    cli: Cli, tmp_path: Path
) -> None:
    def update(slug: str, key: str) -> dict[str, Any]:
        shown = json.loads(cli.ok("cases", "show", slug, "--json").stdout)
        found: dict[str, Any] = next(u for u in shown["updates"] if u["key"] == key)
        return found

    cli.ok("cases", "import", "--sample")
    released = update(PASTOR, "2014-02-27-released")
    fixed = "Released from prison; four years' probation"
    cli.ok("updates", "edit", str(released["id"]), "--title", fixed)

    # The same file again: the correction stays, and the import says so.
    out = cli.ok("cases", "import", "--sample").stdout
    assert "nothing to change" in out
    assert (
        "kept the correction made since the last import: "
        "bakhytzhan-kashkumbayev 2014-02-27-released (title)"
    ) in out
    assert update(PASTOR, "2014-02-27-released")["title"] == fixed

    # The file changes another field of that update: that change comes, the correction stays.
    sample = ROOT / "notifier" / "ingest" / "sample" / "bakhytzhan-kashkumbayev.yaml"
    edited = tmp_path / "kashkumbayev.yaml"
    text = sample.read_text(encoding="utf-8")
    text = text.replace("4 years of probation.", "4 years of probation, served at home.")
    edited.write_text(text, encoding="utf-8")
    out = cli.ok("cases", "import", str(edited)).stdout
    assert "updates: 0 added, 1 changed, 3 unchanged" in out
    now = update(PASTOR, "2014-02-27-released")
    assert now["title"] == fixed
    assert "served at home" in now["body"]

    # The file changes the corrected field itself: its newer text wins, and that is said.
    title = "Released from prison; sentenced to probation"
    newer = "Released; four years' probation at home"
    edited.write_text(text.replace(title, newer), encoding="utf-8")
    out = cli.ok("cases", "import", str(edited)).stdout
    assert (
        "the file's text replaced the correction: bakhytzhan-kashkumbayev "
        "2014-02-27-released (title)"
    ) in out
    assert update(PASTOR, "2014-02-27-released")["title"] == newer
    assert "correction" not in cli.ok("cases", "import", str(edited)).stdout


def test_a_correction_of_an_update_imported_before_notifier_kept_file_fields_is_kept(
    cli: Cli,
) -> None:
    cli.ok("cases", "import", "--sample")

    async def forget_what_files_gave() -> None:  # as a store from before migration 0016
        async with open_store(cli.settings) as store, store.transaction() as session:
            await session.execute(sql_update(Update).values(imported_fields=None))

    asyncio.run(forget_what_files_gave())
    shown = json.loads(cli.ok("cases", "show", "makhset-djabbarbergenov", "--json").stdout)
    arrested = next(u for u in shown["updates"] if u["key"] == "2012-09-02-arrested")
    cli.ok("updates", "edit", str(arrested["id"]), "--source", "Forum 18")
    out = cli.ok("cases", "import", "--sample").stdout
    assert "makhset-djabbarbergenov 2012-09-02-arrested (source_name)" in out
    again = json.loads(cli.ok("cases", "show", "makhset-djabbarbergenov", "--json").stdout)
    kept = next(u for u in again["updates"] if u["key"] == "2012-09-02-arrested")
    assert kept["source"]["name"] == "Forum 18"
