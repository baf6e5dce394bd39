"""Bounces that arrive after sending: every email leaves from a signed VERP address (seen by a
real aiosmtpd server), and delivery reports dropped into the bounce Maildir — as a mail system
delivers them — stop email to the address that failed for good, and only that."""

from __future__ import annotations

import mailbox
import time
from email.message import EmailMessage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from notifier.bounces.process import process_bounces
from notifier.bounces.verp import Verp
from notifier.config import Settings
from notifier.links import load_secret
from notifier.service import pipeline
from notifier.store.models import OutboxMessage, Subscriber
from notifier.watch import watch_once
from tests.helpers import KZ, Cli, new_update, outbox_rows, seed, smtp_settings, subscribe
from tests.smtp_server import SmtpServer

BOUNCES = "bounces@example.org"


def test_verp_addresses_are_signed_and_name_one_message() -> None:
    verp = Verp(BOUNCES, "secret")
    address = verp.envelope_from(1234)
    assert address.startswith("bounces+1234.")
    assert address.endswith("@example.org")
    assert verp.outbox_id(address) == 1234
    assert verp.outbox_id(f"<{address.upper()}>") == 1234  # some systems fold case
    assert verp.outbox_id(address.replace("1234.", "1235.")) is None  # another id, same sig
    assert Verp(BOUNCES, "another key").outbox_id(address) is None
    assert verp.outbox_id(address.replace("example.org", "example.net")) is None
    assert verp.outbox_id("bounces@example.org") is None
    assert verp.outbox_id("bounces+12.zz@example.org") is None


def test_settings_refuse_a_maildir_without_verp_and_an_address_with_plus(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="bounce_maildir needs bounce_address"):
        Settings(data_dir=tmp_path, bounce_maildir=tmp_path / "bounces")
    with pytest.raises(ValidationError, match="without '\\+'"):
        Settings(data_dir=tmp_path, bounce_address="bounces+x@example.org")


async def test_email_leaves_from_a_verp_address(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    configured = smtp_settings(settings, smtp_server, bounce_address=BOUNCES)
    async with pipeline(configured) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        assert (await p.deliverer.drain()).sent == 1
        [row] = await outbox_rows(p)
    [received] = smtp_server.received
    verp = Verp(BOUNCES, load_secret(configured))
    assert received.mail_from == verp.envelope_from(row.id)
    assert str(received.message["From"]) == "Prayer network <news@example.org>"  # unchanged


def delivery_report(
    to: str, final_recipient: str, *, action: str = "failed", status: str = "5.1.1"
) -> MIMEMultipart:
    """A delivery status notification (RFC 3464) as Postfix writes one."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.net (Mail Delivery System)"
    report["To"] = to
    report["Delivered-To"] = to
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.attach(
        MIMEText(
            "This is the mail system at host mx.example.net.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients.\n"
        )
    )
    status_part = EmailMessage()
    status_part.set_content(
        "Reporting-MTA: dns; mx.example.net\n"
        "Arrival-Date: Sat, 28 Nov 2026 01:00:00 +0000 (UTC)\n\n"
        f"Final-Recipient: rfc822; {final_recipient}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} mailbox problem\n"
    )
    delivery_status = MIMEMessage(status_part, "delivery-status")
    report.attach(delivery_status)
    original = EmailMessage()
    original["From"] = "Prayer network <news@example.org>"
    original["To"] = final_recipient
    original["Subject"] = "Kazakhstan: Appeal hearing set"
    report.attach(MIMEMessage(original))
    return report


def auto_reply(to: str) -> EmailMessage:
    reply = EmailMessage()
    reply["From"] = "anna@example.org"
    reply["To"] = to
    reply["Subject"] = "Out of office"
    reply["Auto-Submitted"] = "auto-replied"
    reply.set_content("I am away until Monday and will read your message then.")
    return reply


async def test_reports_in_the_bounce_maildir_stop_email_to_who_failed_for_good(
    settings: Settings, tmp_path: Path
) -> None:
    configured = settings.model_copy(
        update={"bounce_address": BOUNCES, "bounce_maildir": tmp_path / "bounces"}
    )
    async with pipeline(configured) as p:
        await seed(p, with_list=False)
        for name in ("anna", "ben", "carla", "dmitri", "eve"):
            await subscribe(p, f"{name}@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        rows = {r.subscriber_id: r.id for r in await outbox_rows(p)}
        verp = Verp(BOUNCES, load_secret(configured))
        to = {sid: verp.envelope_from(outbox_id) for sid, outbox_id in rows.items()}
        box = mailbox.Maildir(str(tmp_path / "bounces"), create=True)
        box.add(delivery_report(to[1], "anna@example.org"))  # user unknown: for good
        # Forwarded on to another address that failed: the VERP address still names Ben.
        box.add(delivery_report(to[2], "ben.old@mail.example.net", status="5.2.1"))
        box.add(delivery_report(to[3], "carla@example.org", action="delayed", status="4.2.2"))
        box.add(auto_reply(to[4]))  # Dmitri's out-of-office: not a bounce
        forged = to[5].replace(to[5].split(".")[1][:4], "0000")
        box.add(delivery_report(forged, "eve@example.org"))  # a forged report about Eve

        report = await process_bounces(p.store, tmp_path / "bounces", verp)
        assert sorted(report.bounced) == ["anna@example.org", "ben@example.org"]
        assert (report.read, report.temporary, report.not_bounces, report.unrecognised) == (
            5,
            1,
            1,
            1,
        )
        async with p.store.read() as session:
            statuses = {
                email: status
                for email, status in await session.execute(
                    select(Subscriber.email, Subscriber.status)
                )
            }
            failed = await session.scalar(
                select(OutboxMessage.last_error).where(OutboxMessage.id == rows[1])
            )
        assert {e: s.value for e, s in statuses.items()} == {
            "anna@example.org": "bounced",
            "ben@example.org": "bounced",
            "carla@example.org": "active",
            "dmitri@example.org": "active",
            "eve@example.org": "active",
        }
        assert failed == "bounced after it was sent: anna@example.org"
        # Each report is read once: marked seen, kept for the record.
        again = await process_bounces(p.store, tmp_path / "bounces", verp)
        assert again.read == 0
        assert all("S" in box.get_message(k).get_flags() for k in box.iterkeys())
        # Nothing more goes to the bounced addresses.
        await new_update(p, title="Later news")
        assert (await watch_once(p.store)).alerts == 3


def test_cli_reads_the_maildir_once(cli: Cli, tmp_path: Path) -> None:
    missing = cli("bounces", "process")
    assert missing.exit_code == 1
    assert "bounces process [bounce_maildir]: set bounce_address and bounce_maildir" in (
        missing.stderr
    )
    configured = Cli(
        cli.settings.model_copy(
            update={"bounce_address": BOUNCES, "bounce_maildir": tmp_path / "bounces"}
        ),
        cli.cwd,
    )
    mailbox.Maildir(str(tmp_path / "bounces"), create=True).add(auto_reply("x@example.org"))
    out = configured.ok("bounces", "process").stdout
    assert "read 1: 0 address(es) bounced, 0 temporary, 0 not bounces, 1 not ours" in out
    assert "read 0:" in configured.ok("bounces", "process").stdout


def test_reports_read_are_deleted_after_the_retention_unread_ones_never(
    cli: Cli, tmp_path: Path
) -> None:
    configured = Cli(
        cli.settings.model_copy(
            update={"bounce_address": BOUNCES, "bounce_maildir": tmp_path / "bounces"}
        ),
        cli.cwd,
    )
    box = mailbox.Maildir(str(tmp_path / "bounces"), create=True)
    old_read, new_read = box.add(auto_reply("x@example.org")), box.add(auto_reply("y@example.org"))
    configured.ok("bounces", "process")
    old_unread = box.add(auto_reply("z@example.org"))  # arrived since: not read yet
    forty_days_ago = time.time() - 40 * 86400
    for key in (old_read, old_unread):
        message = box.get_message(key)
        message.set_date(forty_days_ago)
        box[key] = message  # a Maildir keeps the arrival time as the file's mtime
    assert "deleted 0 report(s)" in configured.ok("bounces", "prune", "--older-than", "41").stdout
    out = configured.ok("bounces", "prune").stdout  # bounce_retention_days: 30
    assert "deleted 1 report(s) read, older than 30 day(s)" in out
    assert sorted(box.keys()) == sorted([new_read, old_unread])
    refused = configured("bounces", "prune", "--older-than", "0")
    assert refused.exit_code == 1
    assert "bounces prune [--older-than]: at least 1 day" in refused.stderr
    assert "bounces prune [bounce_maildir]" in cli("bounces", "prune").stderr


async def test_temporary_failures_on_enough_days_make_a_bounce(
    settings: Settings, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from notifier.bounces.process import SoftBounces

    configured = settings.model_copy(
        update={"bounce_address": BOUNCES, "bounce_maildir": tmp_path / "bounces"}
    )
    policy = SoftBounces(limit=3, reset=timedelta(days=14))
    async with pipeline(configured) as p:
        await seed(p, with_list=False)
        await subscribe(p, "full@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        [row] = await outbox_rows(p)
        verp = Verp(BOUNCES, load_secret(configured))
        box = mailbox.Maildir(str(tmp_path / "bounces"), create=True)
        start = datetime(2026, 11, 1, 9, tzinfo=UTC)

        async def mailbox_full(at: datetime) -> list[str]:
            box.add(
                delivery_report(
                    verp.envelope_from(row.id), "full@example.org", action="delayed",
                    status="4.2.2",
                )
            )  # fmt: skip
            report = await process_bounces(p.store, tmp_path / "bounces", verp, soft=policy, now=at)
            assert report.temporary == 1
            return report.bounced

        async def status() -> str:
            async with p.store.read() as session:
                found = await session.scalar(select(Subscriber.status))
                assert found is not None
                return str(found.value)

        assert await mailbox_full(start) == []
        assert await mailbox_full(start + timedelta(hours=3)) == []  # same day: counted once
        # A month later the count starts again: old failures are forgiven.
        later = start + timedelta(days=30)
        assert await mailbox_full(later) == []
        assert await mailbox_full(later + timedelta(days=2)) == []
        assert await status() == "active"
        assert await mailbox_full(later + timedelta(days=5)) == ["full@example.org"]
        assert await status() == "bounced"
