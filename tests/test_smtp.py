"""Email over SMTP against a real aiosmtpd server: headers as received, faults as a real server
gives them, TLS and AUTH, DKIM — and in every case no message lost."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import dkim
import pytest
import trustme
from pydantic import SecretStr
from sqlalchemy import select, update

from notifier.config import Settings
from notifier.domain import Channel, OutboxStatus, Severity, SubscriberStatus
from notifier.service import Pipeline, pipeline
from notifier.store.cases import get_case
from notifier.store.models import OutboxMessage, Subscriber, Update, utcnow
from notifier.watch import watch_once
from tests.helpers import ROOT, Cli, DkimKey, news, outbox_rows, seed_email_followers, smtp_settings
from tests.smtp_server import SmtpServer, TlsMode


@asynccontextmanager
async def smtp_pipeline(settings: Settings) -> AsyncIterator[Pipeline]:
    async with pipeline(settings) as p:
        yield p


def test_run_once_delivers_alerts_and_digests_with_every_header(
    cli: Cli, smtp_server: SmtpServer
) -> None:
    named = smtp_settings(cli.settings, smtp_server, network_name="Kazakhstan prayer network")
    env_cli = Cli(named, cli.cwd)
    env_cli.ok("cases", "import", "--sample")
    env_cli.ok("lists", "apply", str(ROOT / "subscribers"))
    env_cli.ok(
        "subscribers", "add", "anna@example.org", "--name", "Анна Петрова", "--follow-country", "KZ"
    )
    env_cli.ok(
        "updates", "add", "kashkumbaev", "--title", "Appeal court upholds the sentence",
        "--source", "Forum 18", "--body", "The court upheld it.",
    )  # fmt: skip
    out = env_cli.ok("run", "--once", "--quiet").stdout
    assert "delivered 1," in out
    env_cli.ok("digest", "send", "--list", "kazakhstan-prayer-chain")
    assert len(smtp_server.received) == 5
    assert not (env_cli.settings.data_dir / "mail").exists()  # nothing went to the Maildir

    alert = next(r for r in smtp_server.received if r.rcpt_tos == ["anna@example.org"])
    m = alert.message
    assert alert.mail_from == "news@example.org"
    assert str(m["From"]) == "Prayer network <news@example.org>"
    assert m["To"].addresses[0].display_name == "Анна Петрова"
    assert m["To"].addresses[0].addr_spec == "anna@example.org"
    assert str(m["Subject"]) == "Pastor Bakhytzhan Kashkumbayev: Appeal court upholds the sentence"
    assert abs((m["Date"].datetime - datetime.now(UTC)).total_seconds()) < 120
    assert re.fullmatch(r"<\d+\.[a-z2-7]{24}@example\.org>", str(m["Message-ID"]))
    assert str(m["List-Id"]) == "Kazakhstan prayer network alerts <alerts.example.org>"
    unsubscribe = str(m["List-Unsubscribe"]).strip()
    assert re.fullmatch(r"<https://notifier\.example\.org/unsubscribe/[\w.-]+>", unsubscribe)
    assert str(m["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert m.get_content_type() == "multipart/alternative"
    text = m.get_body(("plain",))
    html = m.get_body(("html",))
    assert text is not None
    assert html is not None
    assert unsubscribe.strip("<>") in text.get_content()
    assert unsubscribe.strip("<>") in html.get_content()
    assert "<img" not in html.get_content()  # no tracking pixels
    for line in alert.data.split(b"\r\n"):
        assert len(line) <= 998

    digest = next(r for r in smtp_server.received if r.rcpt_tos == ["prayer-team@example.org"])
    d = digest.message
    assert str(d["List-Id"]) == "Kazakhstan prayer chain <kazakhstan-prayer-chain.example.org>"
    assert str(d["To"]) == "St Andrew's prayer team <prayer-team@example.org>"
    body = d.get_body(("plain",))
    assert body is not None
    assert "Appeal court upholds the sentence" in body.get_content()
    assert "Father in heaven" in body.get_content()


async def test_a_450_is_retried_later_with_the_same_message_id(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    async with smtp_pipeline(smtp_settings(settings, smtp_server)) as p:
        await seed_email_followers(p, [("anna@example.org", "Anna")])
        await news(p)
        smtp_server.reply("data", 450, "4.2.0 Mailbox busy")
        first = await p.deliverer.drain()
        assert (first.sent, first.retried) == (0, 1)
        [row] = await outbox_rows(p)
        assert row.status is OutboxStatus.RETRY
        assert row.last_error == "450 4.2.0 Mailbox busy"
        later = await p.deliverer.drain(now=row.next_attempt_at)
        assert later.sent == 1
        [refused] = smtp_server.refused
        [received] = smtp_server.received
        assert str(received.message["Message-ID"]) == str(refused.message["Message-ID"])
        assert str(received.message["Message-ID"]).startswith(f"<{row.id}.")


async def test_no_such_user_bounces_that_address_only(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    async with smtp_pipeline(smtp_settings(settings, smtp_server)) as p:
        await seed_email_followers(p, [("anna@example.org", "Anna"), ("gone@example.org", "Gone")])
        await news(p)
        smtp_server.reply("rcpt", 550, "5.1.1 No such user", address="gone@example.org", times=5)
        report = await p.deliverer.drain()
        assert (report.sent, report.failed) == (1, 1)
        assert [r.rcpt_tos for r in smtp_server.received] == [["anna@example.org"]]
        async with p.store.read() as session:
            gone = await session.scalar(
                select(Subscriber).where(Subscriber.email == "gone@example.org")
            )
            assert gone is not None
            assert gone.status is SubscriberStatus.BOUNCED
        failed = [r for r in await outbox_rows(p) if r.status is OutboxStatus.FAILED]
        assert [r.last_error for r in failed] == ["550 5.1.1 No such user"]
        await news(p, "More news")
        to_gone = [r for r in await outbox_rows(p) if r.subscriber_id == gone.id]
        assert len(to_gone) == 1  # no more mail


async def test_a_5xx_without_5_1_fails_the_message_but_keeps_the_address(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    async with smtp_pipeline(smtp_settings(settings, smtp_server)) as p:
        await seed_email_followers(p, [("anna@example.org", "Anna")])
        await news(p)
        smtp_server.reply("data", 554, "5.7.1 Message rejected as spam")
        assert (await p.deliverer.drain()).failed == 1
        async with p.store.read() as session:
            anna = await session.scalar(select(Subscriber))
            assert anna is not None
            assert anna.status is SubscriberStatus.ACTIVE


@pytest.mark.parametrize("fault", ["421", "drop"])
async def test_a_closed_connection_reconnects_and_loses_nothing(
    settings: Settings, smtp_server: SmtpServer, fault: str
) -> None:
    async with smtp_pipeline(smtp_settings(settings, smtp_server, smtp_pool_size=1)) as p:
        people = [(f"p{i}@example.org", f"P {i}") for i in range(5)]
        await seed_email_followers(p, people)
        await news(p)
        if fault == "421":
            smtp_server.reply_421()
        else:
            smtp_server.drop_after_data()
        report = await p.deliverer.drain()
        assert report.sent == 5
        assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == sorted(e for e, _ in people)
        assert smtp_server.connections == 2  # one dropped, one new


async def test_many_messages_share_a_few_connections(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    async with smtp_pipeline(smtp_settings(settings, smtp_server, smtp_pool_size=3)) as p:
        await seed_email_followers(p, [(f"p{i}@example.org", "") for i in range(60)])
        await news(p)
        assert (await p.deliverer.drain()).sent == 60
        assert smtp_server.connections == 3
        assert len({r.message["Message-ID"] for r in smtp_server.received}) == 60


async def test_an_unreachable_server_fails_nothing_then_pauses_and_recovers(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    """One failure per round, however many connections the pool has (four connections once
    counted as four failures, and the pause jumped to minutes); the messages wait for the end
    of the pause, not for a backoff of their own; status says what it waits for and until
    when."""
    from notifier.channels.smtp import SmtpSender
    from notifier.status import read_status

    async with smtp_pipeline(smtp_settings(settings, smtp_server)) as p:
        await seed_email_followers(p, [(f"p{i}@example.org", "") for i in range(3)])
        await news(p)
        sender = p.deliverer.senders[Channel.EMAIL]
        assert isinstance(sender, SmtpSender)
        smtp_server.refuse_connections(True)
        for round_ in (1, 2):
            report = await p.deliverer.drain()
            after = time.time()  # every result was written before drain returned
            assert (report.failed, report.retried) == (0, 3)
            assert sender._failures == round_
            pause = 5.0 * 2 ** (round_ - 1)
            assert sender.state.paused_until is not None
            assert sender.state.paused_until <= time.time() + pause
            for row in await outbox_rows(p):
                assert row.status is OutboxStatus.RETRY
                assert "cannot connect" in (row.last_error or "")
                # Back when the pause ends, not after an exponential backoff of its own
                # (measured from when the result was written, however slow the machine).
                assert row.next_attempt_at.timestamp() <= after + pause
            # While the channel pauses nothing is claimed, so nothing is tried in vain.
            assert (await p.deliverer.drain()).claimed == 0
            sender.state.paused_until = time.time() - 1  # the pause is over
            async with p.store.transaction() as session:
                await session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        status = await read_status(p.store, now=datetime.now(UTC))
        [(name, paused, note)] = status.channels
        assert name == "smtp"
        assert paused is not None
        assert note.startswith(f"waiting for the SMTP server {smtp_server.host}:")
        assert "2 failed tries" in note
        assert "next try with one connection at" in note
        smtp_server.refuse_connections(False)
        assert (await p.deliverer.drain()).sent == 3
        assert (await read_status(p.store, now=datetime.now(UTC))).channels == [("smtp", None, "")]


async def test_days_of_an_unreachable_server_pause_no_longer_than_the_cap(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    """After two days of refused connections (about 1,000 failures) the pause stays at its
    cap; 2**n of the failure count once overflowed, and every poll then hammered the dead
    server with 'OverflowError' as the only error shown."""
    from notifier.channels.smtp import SmtpSender

    async with smtp_pipeline(smtp_settings(settings, smtp_server, smtp_pause_max=45)) as p:
        await seed_email_followers(p, [("p@example.org", "")])
        await news(p)
        smtp_server.refuse_connections(True)
        sender = p.deliverer.senders[Channel.EMAIL]
        assert isinstance(sender, SmtpSender)
        sender._failures = 2_000  # what two days of an outage leave behind
        report = await p.deliverer.drain()
        assert (report.failed, report.retried) == (0, 1)
        [row] = await outbox_rows(p)
        assert "cannot connect" in (row.last_error or "")
        assert "2001 failed tries" in sender.state.note
        assert sender.state.paused_until is not None
        assert sender.state.paused_until - time.time() <= 45


async def test_an_outage_is_over_when_the_server_is_back(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    """A real outage (listener closed, open connections cut) during a send, with delivery
    polling as `notifier run` does: nothing is lost or doubled, and once the server is back
    every message is due again within one pause (`smtp_pause_max`), not minutes later."""
    configured = smtp_settings(settings, smtp_server, smtp_pause_max=2)
    async with smtp_pipeline(configured) as p:
        await seed_email_followers(p, [(f"p{i}@example.org", "") for i in range(20)])
        await news(p)
        smtp_server.go_down()
        sender = p.deliverer.senders[Channel.EMAIL]
        while sender.state.paused_until is None or getattr(sender, "_failures", 0) < 3:
            await p.deliverer.drain()  # the service's poll: rounds fail while the pause allows
            await asyncio.sleep(0.05)
        back = time.time()
        smtp_server.refuse_connections(False)
        while len({r.message["Message-ID"] for r in smtp_server.received}) < 20:
            await p.deliverer.drain()
            await asyncio.sleep(0.05)
        assert len(smtp_server.received) == 20  # none twice
        assert {r.status for r in await outbox_rows(p)} == {OutboxStatus.SENT}
        # Waiting after the return was at most one pause: the last failed round's.
        assert all(r.sent_at is not None for r in await outbox_rows(p))
        assert sender.state.paused_until is None
        assert max(r.next_attempt_at.timestamp() for r in await outbox_rows(p)) <= back + 2 + 1


@pytest.mark.parametrize(("tls", "scheme"), [("starttls", "smtp+starttls"), ("implicit", "smtps")])
async def test_tls_with_a_trusted_certificate(
    settings: Settings, tls_ca: trustme.CA, tmp_path: Path, tls: TlsMode, scheme: str
) -> None:
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    cert = tls_ca.issue_cert("127.0.0.1", "localhost")
    with SmtpServer(
        tls=tls, cert=cert, require_starttls=tls == "starttls", auth=("notifier", "s3cret")
    ) as server:
        url = f"{scheme}://notifier:s3cret@{server.host}:{server.port}"
        configured = smtp_settings(settings, server, smtp_ca_file=ca_file)
        configured = configured.model_copy(update={"smtp_url": SecretStr(url)})
        async with smtp_pipeline(configured) as p:
            await seed_email_followers(p, [("anna@example.org", "Anna")])
            await news(p)
            assert (await p.deliverer.drain()).sent == 1
        assert server.received[0].tls
        assert server.auth_logins == ["notifier"]


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_an_untrusted_certificate_is_refused_and_mail_waits(
    settings: Settings, tls_ca: trustme.CA, tls: TlsMode
) -> None:
    cert = tls_ca.issue_cert("127.0.0.1", "localhost")  # the client is not told this CA
    scheme = "smtp+starttls" if tls == "starttls" else "smtps"
    with SmtpServer(tls=tls, cert=cert) as server:
        async with smtp_pipeline(smtp_settings(settings, server, scheme)) as p:
            await seed_email_followers(p, [("anna@example.org", "Anna")])
            await news(p)
            report = await p.deliverer.drain()
            assert (report.sent, report.failed, report.retried) == (0, 0, 1)
            [row] = await outbox_rows(p)
            assert "certificate" in (row.last_error or "").lower()
        assert server.received == []


async def test_wrong_password_waits_and_says_so(settings: Settings, tls_ca: trustme.CA) -> None:
    cert = tls_ca.issue_cert("127.0.0.1", "localhost")
    with SmtpServer(tls="implicit", cert=cert, auth=("notifier", "right")) as server:
        ca = Path(settings.data_dir.parent / "ca.pem")
        tls_ca.cert_pem.write_to_path(str(ca))
        configured = smtp_settings(settings, server, smtp_ca_file=ca).model_copy(
            update={
                "smtp_url": SecretStr(f"smtps://notifier@{server.host}:{server.port}"),
                "smtp_password": SecretStr("wrong"),
            }
        )
        async with smtp_pipeline(configured) as p:
            await seed_email_followers(p, [("anna@example.org", "Anna")])
            await news(p)
            assert (await p.deliverer.drain()).retried == 1
            [row] = await outbox_rows(p)
            assert (row.last_error or "").startswith("login refused: 535")


async def test_dkim_signature_verifies_with_the_public_key(
    settings: Settings, smtp_server: SmtpServer, dkim_key: DkimKey
) -> None:
    configured = dkim_key.signing(smtp_settings(settings, smtp_server))
    async with smtp_pipeline(configured) as p:
        await seed_email_followers(p, [("anna@example.org", "Анна")])
        await news(p)
        assert (await p.deliverer.drain()).sent == 1
    [received] = smtp_server.received
    signature = str(received.message["DKIM-Signature"])
    signed = re.search(r"h=([^;]+)", signature.replace("\r\n", "").replace(" ", ""))
    assert signed is not None
    covered = set(signed.group(1).lower().split(":"))
    assert {"from", "subject", "date", "message-id", "list-id", "list-unsubscribe",
            "list-unsubscribe-post"} <= covered  # fmt: skip

    assert dkim.verify(received.data, dnsfunc=dkim_key.dns)
    tampered = received.data.replace(b"Appeal court", b"Appeal COURT", 1)
    assert not dkim.verify(tampered, dnsfunc=dkim_key.dns)


async def test_a_name_with_a_line_break_never_makes_a_header(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    """Every face refuses a line break in a name or a title now; one stored before that (or
    written straight into the store) still never becomes a header."""
    async with smtp_pipeline(smtp_settings(settings, smtp_server)) as p:
        await seed_email_followers(p, [("anna@example.org", "Anna\r\nBcc: victim@example.org")])
        async with p.store.transaction() as session:
            case = await get_case(session, "kashkumbaev")
            session.add(
                Update(
                    case_id=case.id, key="injected", event_date=date(2024, 5, 1),
                    title="Title\r\nX-Injected: yes", body="The court upheld it.",
                    source_name="Forum 18", severity=Severity.NORMAL,
                )
            )  # fmt: skip
        await watch_once(p.store)
        assert (await p.deliverer.drain()).sent == 1
    [received] = smtp_server.received
    assert received.message["Bcc"] is None
    assert received.message["X-Injected"] is None
    assert received.rcpt_tos == ["anna@example.org"]


def test_outbox_list_and_retry_from_the_cli(cli: Cli, smtp_server: SmtpServer) -> None:
    import json

    env_cli = Cli(smtp_settings(cli.settings, smtp_server), cli.cwd)
    env_cli.ok("cases", "import", "--sample")
    env_cli.ok("subscribers", "add", "anna@example.org", "--follow-country", "KZ")
    env_cli.ok("subscribers", "add", "ben@example.org", "--follow-country", "KZ")
    env_cli.ok("updates", "add", "kashkumbaev", "--title", "News", "--source", "x")
    smtp_server.reply("data", 554, "5.6.0 Content rejected", address="ben@example.org")
    env_cli.ok("run", "--once", "--quiet")
    failed = json.loads(env_cli.ok("outbox", "list", "--status", "failed", "--json").stdout)
    assert [(m["to"], m["status"], m["last_error"]) for m in failed] == [
        ("ben@example.org", "failed", "554 5.6.0 Content rejected")
    ]
    assert "1 message(s) queued again" in env_cli.ok("outbox", "retry", "--failed").stdout
    assert "delivered 1," in env_cli.ok("run", "--once", "--quiet").stdout
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == [
        "anna@example.org",
        "ben@example.org",
    ]
    everything = json.loads(env_cli.ok("outbox", "list", "--json").stdout)
    assert {m["status"] for m in everything} == {"sent"}
    assert "0 message(s) queued again" in env_cli.ok("outbox", "retry", "--id", "1").stdout
    bad = env_cli("outbox", "list", "--status", "lost")
    assert bad.exit_code == 1
    assert "[--status]: 'lost': one of pending" in bad.stderr
