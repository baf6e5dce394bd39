"""The test SMTP server (tests/smtp_server.py) against the real aiosmtplib client."""

from __future__ import annotations

import asyncio
import ssl
from email.message import EmailMessage

import aiosmtplib
import pytest
import trustme

from tests.smtp_server import SmtpServer, TlsMode

# Holding the fixtures makes this file independent of conftest.py (which imports them too); the
# tuple uses the names, so the test parameters that take them are not redefinitions (F811).

FROM = "notifier@example.org"
CLIENT_NAME = "client.test"  # aiosmtplib would otherwise ask socket.getfqdn()

# Dot-stuffing, 8-bit UTF-8 and a long line: what the server records must be these bytes.
RAW = (
    b"From: notifier <notifier@example.org>\r\n"
    b"To: anna@example.org\r\n"
    b"Subject: Appeal court upholds the sentence\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Pray for Pastor \xc3\x81bdulla \xe2\x80\x94 the court upheld the sentence.\r\n"
    b".a line that starts with a dot\r\n"
    b"..and one with two\r\n" + b"x" * 900 + b"\r\n"
)


def client(
    server: SmtpServer,
    *,
    tls: TlsMode = "none",
    tls_context: ssl.SSLContext | None = None,
    username: str | None = None,
    password: str | None = None,
) -> aiosmtplib.SMTP:
    """An aiosmtplib client for the server; `tls="none"` never upgrades with STARTTLS."""
    return aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        local_hostname=CLIENT_NAME,
        timeout=5,
        use_tls=tls == "implicit",
        start_tls=tls == "starttls",
        tls_context=tls_context,
        username=username,
        password=password,
    )


def message(to: str = "anna@example.org", subject: str = "Hello") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = FROM
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Body\n")
    return msg


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_plain_send_is_received_with_its_bytes_intact(smtp_server: SmtpServer) -> None:
    assert smtp_server.host == "127.0.0.1"
    assert smtp_server.port > 0
    async with client(smtp_server) as smtp:
        errors, _ = await smtp.sendmail(FROM, ["anna@example.org", "ben@example.org"], RAW)
    assert errors == {}
    [got] = smtp_server.received
    assert got.data == RAW
    assert got.mail_from == FROM
    assert got.rcpt_tos == ["anna@example.org", "ben@example.org"]
    assert got.message["Subject"] == "Appeal court upholds the sentence"
    assert "Ábdulla" in got.message.get_content()
    assert got.peer[0] == "127.0.0.1"
    assert got.connection_id == 1
    assert not got.tls
    assert smtp_server.connections == 1


async def test_messages_over_one_connection_count_one_connection(
    smtp_server: SmtpServer,
) -> None:
    async with client(smtp_server) as smtp:
        for n in range(3):
            await smtp.send_message(message(subject=f"n{n}"))
    async with client(smtp_server) as smtp:
        await smtp.send_message(message(subject="again"))
    assert smtp_server.connections == 2
    assert [r.message["Subject"] for r in smtp_server.received] == ["n0", "n1", "n2", "again"]
    assert [r.connection_id for r in smtp_server.received] == [1, 1, 1, 2]


async def test_data_reply_450_then_success_on_retry(smtp_server: SmtpServer) -> None:
    smtp_server.reply("data", 450, "4.3.0 Try again later")
    async with client(smtp_server) as smtp:
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await smtp.send_message(message())
        assert (refused.value.code, refused.value.message) == (450, "4.3.0 Try again later")
        assert smtp_server.received == []
        await smtp.send_message(message())
    assert len(smtp_server.received) == 1
    [refused_message] = smtp_server.refused  # what the client sent, to compare with the retry
    assert refused_message.message["Subject"] == "Hello"


async def test_smtputf8_is_offered_and_carries_utf8_addresses(smtp_server: SmtpServer) -> None:
    utf8 = message(to="мария@xn--e1afmkfd.xn--p1ai")
    async with client(smtp_server) as smtp:
        await smtp.ehlo()
        assert smtp.supports_extension("smtputf8")
        await smtp.send_message(utf8, mail_options=["SMTPUTF8"])
    [got] = smtp_server.received
    assert got.rcpt_tos == ["мария@xn--e1afmkfd.xn--p1ai"]
    assert "SMTPUTF8" in got.mail_options
    assert got.message["To"].addresses[0].addr_spec == "мария@xn--e1afmkfd.xn--p1ai"
    assert got.helo == CLIENT_NAME


async def test_without_smtputf8_a_utf8_address_is_refused() -> None:
    with SmtpServer(smtputf8=False) as server:
        async with client(server) as smtp:
            await smtp.ehlo()
            assert not smtp.supports_extension("smtputf8")
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await smtp.mail("мария@xn--e1afmkfd.xn--p1ai", encoding="utf-8")
            assert (refused.value.code, refused.value.message) == (500, "Error: strict ASCII mode")
            await smtp.rset()
            await smtp.send_message(message())  # ASCII mail still goes
        [got] = server.received
        assert got.rcpt_tos == ["anna@example.org"]
        assert "SMTPUTF8" not in got.mail_options


async def test_mail_reply_takes_effect_times_then_accepts(smtp_server: SmtpServer) -> None:
    smtp_server.reply("mail", 451, "4.7.1 Slow down", times=2)
    async with client(smtp_server) as smtp:
        for _ in range(2):
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await smtp.send_message(message())
            assert refused.value.code == 451
        await smtp.send_message(message())
    assert len(smtp_server.received) == 1


async def test_rcpt_reply_for_one_address_only(smtp_server: SmtpServer) -> None:
    smtp_server.reply("rcpt", 550, "5.1.1 No such user", address="gone@example.org")
    recipients = ["anna@example.org", "gone@example.org", "ben@example.org"]
    async with client(smtp_server) as smtp:
        errors, _ = await smtp.sendmail(FROM, recipients, RAW)
        assert {address: r.code for address, r in errors.items()} == {"gone@example.org": 550}
        assert errors["gone@example.org"].message == "5.1.1 No such user"
        # Used up: the address is accepted again.
        errors, _ = await smtp.sendmail(FROM, ["gone@example.org"], RAW)
        assert errors == {}
    first, second = smtp_server.received
    assert first.rcpt_tos == ["anna@example.org", "ben@example.org"]
    assert second.rcpt_tos == ["gone@example.org"]


async def test_reply_421_answers_and_closes_the_connection(smtp_server: SmtpServer) -> None:
    smtp_server.reply_421()
    async with client(smtp_server) as smtp:
        with pytest.raises(aiosmtplib.SMTPResponseException) as closed:
            await smtp.send_message(message())
        assert (closed.value.code, closed.value.message) == (421, "4.7.0 Closing connection")
        assert not smtp.is_connected
    assert smtp_server.received == []

    # The server closes it, not just the client: a raw client reads the 421, then EOF.
    smtp_server.reply_421()
    reader, writer = await asyncio.open_connection(smtp_server.host, smtp_server.port)
    try:
        await reader.readline()
        for line in ["HELO raw", f"MAIL FROM:<{FROM}>", "RCPT TO:<anna@example.org>", "DATA"]:
            writer.write(line.encode() + b"\r\n")
            await reader.readline()
        writer.write(b"Subject: x\r\n\r\nbody\r\n.\r\n")
        assert await reader.readline() == b"421 4.7.0 Closing connection\r\n"
        assert await asyncio.wait_for(reader.read(), 2) == b""
    finally:
        writer.close()
        await writer.wait_closed()

    async with client(smtp_server) as smtp:
        await smtp.send_message(message())
    assert len(smtp_server.received) == 1
    assert smtp_server.connections == 3


async def test_drop_after_data_disconnects_and_records_nothing(smtp_server: SmtpServer) -> None:
    smtp_server.drop_after_data()
    async with client(smtp_server) as smtp:
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await smtp.send_message(message())
    assert smtp_server.received == []
    async with client(smtp_server) as smtp:
        await smtp.send_message(message())
    assert len(smtp_server.received) == 1


async def test_refused_connections_then_accepting_again_on_the_same_port(
    smtp_server: SmtpServer,
) -> None:
    port = smtp_server.port
    open_before = client(smtp_server)
    await open_before.connect()
    try:
        smtp_server.refuse_connections(True)
        with pytest.raises(aiosmtplib.SMTPConnectError) as refused:
            await client(smtp_server).connect()
        assert isinstance(refused.value.__cause__, ConnectionRefusedError)
        # A connection accepted before carries on.
        await open_before.send_message(message(subject="while refusing"))
    finally:
        await open_before.quit()

    smtp_server.refuse_connections(False)
    assert smtp_server.port == port
    async with client(smtp_server) as smtp:
        await smtp.send_message(message(subject="after"))
    assert [r.message["Subject"] for r in smtp_server.received] == ["while refusing", "after"]
    assert smtp_server.connections == 2


async def test_starttls_with_the_trusted_ca(tls_ca: trustme.CA) -> None:
    cert = tls_ca.issue_cert("127.0.0.1", "localhost")
    with SmtpServer(tls="starttls", cert=cert, require_starttls=True) as server:
        # Before STARTTLS, MAIL is refused.
        async with client(server) as smtp:
            await smtp.ehlo()
            assert smtp.supports_extension("starttls")
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await smtp.send_message(message())
            assert refused.value.code == 530
        async with client(server, tls="starttls", tls_context=trusting(tls_ca)) as smtp:
            await smtp.send_message(message())
    [got] = server.received
    assert got.tls


async def test_implicit_tls_with_the_trusted_ca(tls_ca: trustme.CA) -> None:
    cert = tls_ca.issue_cert("127.0.0.1", "localhost")
    with SmtpServer(tls="implicit", cert=cert) as server:
        async with client(server, tls="implicit", tls_context=trusting(tls_ca)) as smtp:
            await smtp.ehlo()
            assert not smtp.supports_extension("starttls")
            await smtp.send_message(message())
    [got] = server.received
    assert got.tls


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_a_client_that_does_not_trust_the_ca_fails(tls_ca: trustme.CA, tls: TlsMode) -> None:
    cert = tls_ca.issue_cert("127.0.0.1", "localhost")
    untrusting = ssl.create_default_context()  # the system's CAs only
    with SmtpServer(tls=tls, cert=cert) as server:
        smtp = client(server, tls=tls, tls_context=untrusting)
        # Implicit TLS: SMTPConnectError from the SSLCertVerificationError; STARTTLS: the
        # SSLCertVerificationError itself.
        with pytest.raises((aiosmtplib.SMTPConnectError, ssl.SSLCertVerificationError)) as failed:
            await smtp.connect()
        error: BaseException | None = failed.value
        if tls == "implicit":
            assert isinstance(error, aiosmtplib.SMTPConnectError)
            error = error.__cause__
        assert isinstance(error, ssl.SSLCertVerificationError)
        assert "CERTIFICATE_VERIFY_FAILED" in str(error)
        assert not smtp.is_connected
        # The server carries on.
        async with client(server, tls=tls, tls_context=trusting(tls_ca)) as ok:
            await ok.send_message(message())
    assert len(server.received) == 1


@pytest.mark.parametrize("tls", ["none", "starttls", "implicit"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_auth_with_the_right_credentials(
    tls_ca: trustme.CA, tls: TlsMode, mechanism: str
) -> None:
    cert = tls_ca.issue_cert("127.0.0.1", "localhost") if tls != "none" else None
    with SmtpServer(tls=tls, cert=cert, auth=("alice", "s3cret")) as server:
        context = trusting(tls_ca) if cert else None
        async with client(server, tls=tls, tls_context=context) as smtp:
            await smtp.ehlo()
            assert mechanism.lower() in smtp.server_auth_methods
            if mechanism == "PLAIN":
                await smtp.auth_plain("alice", "s3cret")
            else:
                await smtp.auth_login("alice", "s3cret")
            await smtp.send_message(message())
    assert server.auth_logins == ["alice"]
    assert len(server.received) == 1


async def test_auth_with_wrong_credentials_gets_535() -> None:
    with SmtpServer(auth=("alice", "s3cret")) as server:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
            async with client(server, username="alice", password="wrong"):
                pass
        assert refused.value.code == 535
    assert server.auth_logins == []
    assert server.received == []


async def test_mail_without_auth_gets_530() -> None:
    with SmtpServer(auth=("alice", "s3cret")) as server:
        async with client(server) as smtp:
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await smtp.send_message(message())
            assert refused.value.code == 530
        async with client(server, username="alice", password="s3cret") as smtp:
            await smtp.send_message(message())
    assert server.auth_logins == ["alice"]
    assert len(server.received) == 1


async def test_no_auth_offered_without_credentials(smtp_server: SmtpServer) -> None:
    async with client(smtp_server) as smtp:
        await smtp.ehlo()
        assert not smtp.supports_extension("auth")
