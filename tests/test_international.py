"""International addresses, end to end against a real SMTP server: an IDN domain travels as
A-labels, a non-ASCII local part with SMTPUTF8 where the server offers it, and fails with a
clear reason where it does not — which `subscribers add` and `import` warn of once notifier
has seen that server."""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
from pathlib import Path

from sqlalchemy import select

from notifier.config import Settings
from notifier.domain import OutboxStatus, SubscriberStatus
from notifier.service import pipeline
from notifier.store.models import OutboxMessage, Subscriber
from notifier.watch import watch_once
from tests.helpers import KZ, Cli, new_update, seed, smtp_settings, subscribe
from tests.smtp_server import SmtpServer

IDN = "anna@xn--bcher-kva.de"  # as people type it from a link: anna@bücher.de
IDN_SHOWN = "anna@bücher.de"
UTF8 = "мария@пример.рф"
UTF8_WIRE = "мария@xn--e1afmkfd.xn--p1ai"


def smtp_cli(cli: Cli, server: SmtpServer) -> Cli:
    return Cli(smtp_settings(cli.settings, server), cli.cwd)


def outbox(cli: Cli) -> dict[str, dict[str, str]]:
    """Each email outbox row by recipient: status and last error."""
    rows = json.loads(cli.ok("outbox", "list", "--json").stdout)
    return {m["to"]: m for m in rows}


def test_an_idn_domain_is_shown_as_typed_and_sent_as_a_labels(cli: Cli) -> None:
    with SmtpServer(smtputf8=False) as server:  # A-labels are ASCII: no SMTPUTF8 needed
        env = smtp_cli(cli, server)
        env.ok("cases", "import", "--sample")
        added = env.ok("subscribers", "add", IDN, "--name", "Anna", "--follow-country", "KZ")
        assert f"added {IDN_SHOWN}" in added.stdout
        assert IDN_SHOWN in env.ok("subscribers", "show", IDN).stdout
        env.ok("updates", "add", "kashkumbaev", "--title", "Appeal heard", "--source", "x")
        assert "delivered 1," in env.ok("run", "--once", "--quiet").stdout
        [received] = server.received
    assert received.rcpt_tos == [IDN]
    assert "SMTPUTF8" not in received.mail_options
    assert received.message["To"].addresses[0].addr_spec == IDN
    assert received.data.isascii()
    assert {m["status"] for m in outbox(env).values()} == {"sent"}


def test_a_non_ascii_local_part_goes_with_smtputf8_when_the_server_offers_it(cli: Cli) -> None:
    with SmtpServer(smtputf8=True) as server:
        env = smtp_cli(cli, server)
        env.ok("cases", "import", "--sample")
        added = env.ok("subscribers", "add", UTF8, "--name", "Мария", "--follow-country", "KZ")
        assert "warning" not in added.stdout  # the server is not known yet: nothing to say
        env.ok("subscribers", "add", "ben@example.org", "--follow-country", "KZ")
        env.ok("updates", "add", "kashkumbaev", "--title", "Appeal heard", "--source", "x")
        assert "delivered 2," in env.ok("run", "--once", "--quiet").stdout
        by_rcpt = {r.rcpt_tos[0]: r for r in server.received}
        # Known now to offer SMTPUTF8: no warning for the next such address either.
        again = env.ok("subscribers", "add", "пётр@пример.рф", "--follow-country", "KZ")
        assert "warning" not in again.stdout
    assert set(by_rcpt) == {UTF8_WIRE, "ben@example.org"}
    utf8 = by_rcpt[UTF8_WIRE]
    assert "SMTPUTF8" in utf8.mail_options
    assert "SMTPUTF8" not in by_rcpt["ben@example.org"].mail_options  # only where needed
    # RFC 6532: the header carries the address in UTF-8 (the rest of it stays ASCII).
    to = utf8.message["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ("Мария", UTF8_WIRE)
    assert utf8.message["Subject"] == "Pastor Bakhytzhan Kashkumbayev: Appeal heard"
    assert by_rcpt["ben@example.org"].data.isascii()


async def test_without_smtputf8_that_message_fails_saying_why_and_the_rest_go(
    settings: Settings,
) -> None:
    with SmtpServer(smtputf8=False) as server:
        async with pipeline(smtp_settings(settings, server)) as p:
            await seed(p, with_list=False)
            await subscribe(p, UTF8, KZ, name="Мария")
            await subscribe(p, IDN_SHOWN, KZ)  # as every way in stores it
            await subscribe(p, "ben@example.org", KZ)
            await new_update(p)
            await watch_once(p.store)
            report = await p.deliverer.drain()
            assert (report.sent, report.failed, report.retried) == (2, 1, 0)
            async with p.store.read() as session:
                rows = {
                    email: (row.status, row.last_error)
                    for row, email in await session.execute(
                        select(OutboxMessage, Subscriber.email).join(
                            Subscriber, Subscriber.id == OutboxMessage.subscriber_id
                        )
                    )
                }
                status = await session.scalar(
                    select(Subscriber.status).where(Subscriber.email == UTF8)
                )
        assert sorted(r.rcpt_tos[0] for r in server.received) == [IDN, "ben@example.org"]
    failed, error = rows[UTF8]
    assert failed is OutboxStatus.FAILED
    assert error == (
        f"{UTF8_WIRE} has non-ASCII characters before the @, which needs SMTPUTF8, and "
        "127.0.0.1 does not offer it"
    )
    assert status is SubscriberStatus.ACTIVE  # the address is fine; this server is not


def test_add_and_import_warn_once_the_server_is_known_to_lack_smtputf8(
    cli: Cli, tmp_path: Path
) -> None:
    with SmtpServer(smtputf8=False) as server:
        env = smtp_cli(cli, server)
        env.ok("cases", "import", "--sample")
        first = env.ok("subscribers", "add", UTF8, "--follow-country", "KZ")
        assert "warning" not in first.stdout  # nothing known of the server yet
        env.ok("updates", "add", "kashkumbaev", "--title", "Appeal heard", "--source", "x")
        env.ok("run", "--once", "--quiet")  # connects, and learns what the server offers
        assert "does not offer it" in outbox(env)[UTF8]["last_error"]

        added = env.ok("subscribers", "add", "пётр@пример.рф", "--follow-country", "KZ")
        assert added.exit_code == 0  # a warning, not a refusal
        assert (
            "warning: пётр@пример.рф has non-ASCII characters before the @: it needs SMTPUTF8, "
            "which 127.0.0.1 did not offer when notifier last connected, so mail to it will fail"
        ) in " ".join(added.stdout.split())
        assert "warning" not in env.ok("subscribers", "add", IDN).stdout  # A-labels are fine

        csv = tmp_path / "people.csv"
        csv.write_text("email,name\nольга@пример.рф,Ольга\nben@example.org,Ben\n")
        imported = " ".join(env.ok("subscribers", "import", str(csv)).stdout.split())
        assert "warning: ольга@пример.рф has non-ASCII characters" in imported
        assert "warning: ben@example.org" not in imported

        # Another server configured since: what was learnt of this one says nothing of it.
        with SmtpServer(smtputf8=False) as other:
            moved = smtp_cli(cli, other)
            assert "warning" not in moved.ok("subscribers", "add", "иван@пример.рф").stdout

    # Mail to the Maildir (no SMTP server) takes any address.
    assert "warning" not in cli.ok("subscribers", "add", "анна@пример.рф").stdout


async def test_the_maildir_takes_international_addresses(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, UTF8, KZ, name="Мария")
        await subscribe(p, IDN_SHOWN, KZ)  # as every way in stores it
        await new_update(p)
        await watch_once(p.store)
        assert (await p.deliverer.drain()).sent == 2
    box = mailbox.Maildir(str(settings.mail_dir), factory=None, create=False)
    messages = [
        email.message_from_string(box.get_bytes(key).decode("utf-8"), policy=email.policy.default)
        for key in box.iterkeys()
    ]
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [IDN, UTF8_WIRE]
