"""Email over SMTP: a pool of long-lived aiosmtplib connections, many messages per connection,
one recipient per message, and every server answer sorted into what the outbox should do.

- 2xx: sent.
- 4xx, timeouts, dropped connections: temporary (the outbox retries, same Message-ID). A 421
  or a dropped connection also reconnects, and the message is tried once more at once.
- 5xx for the recipient: permanent; 5.1.x ("no such user") means the address bounced.
- The server cannot be reached or refuses our login/TLS: every message waits (temporary) and
  the channel pauses, 5 s and doubling per failed round up to `smtp_pause_max`, and says so
  in `notifier status`; then one connection tries, and the rest follow once it is in.
- Each result is reported as its answer comes back, and a connection lets a message go (DATA)
  only once the one UNRECORDED places before it is recorded: a crash sends again at most
  UNRECORDED accepted messages per connection.
- An address whose local part is not ASCII goes with SMTPUTF8 when the server offers it, and
  fails (permanent, saying why) when it does not. What the server offered on the last
  connection is kept in the channel's state, so `subscribers add` can warn before it matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosmtplib
from aiolimiter import AsyncLimiter

from notifier.channels.base import ChannelState, Limits, Report, Results
from notifier.channels.dkim import DkimSigner
from notifier.channels.email_message import EmailBuilder
from notifier.domain.messages import EmailContent, Outcome, Outgoing, Result
from notifier.mail_address import SERVER_NOTE, SMTPUTF8_NOTE, needs_smtputf8, wire_address
from notifier.smtp_url import Security, SmtpServer

#: "5.1.1", "4.2.2"… at the start of a reply's text (RFC 3463 enhanced status codes).
ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
#: Accepted messages per connection whose result may still be unrecorded: what a crash can send
#: twice. Records are written in groups (see delivery/recorder.py), and the first connection to
#: reach this bound sends the group on its way for all. Measured with bench.email (4
#: connections): 1 halves the throughput of a bare client; 2 costs a fifth (a write of one or
#: two rows per message); 4 lets the other connections' results join each write.
UNRECORDED = 4
#: A round of sending that finds the server unreachable pauses the channel this long (s),
#: doubling with each such round in a row, up to the `smtp_pause_max` setting.
PAUSE_FIRST = 5.0


class _NoSmtpUtf8(Exception):
    """The address needs SMTPUTF8 and the server does not offer it: that message fails."""


class ServerUnreachable(Exception):
    """Could not connect, secure or log in: no message was tried."""


def classify(code: int, text: str) -> Outcome:
    """What a server's refusal means for the message."""
    if 400 <= code < 500:
        return Outcome.TEMPORARY
    enhanced = ENHANCED.match(text or "")
    if enhanced and enhanced.group(1) == "5" and enhanced.group(2) == "1":
        return Outcome.BOUNCED
    return Outcome.PERMANENT if code >= 500 else Outcome.TEMPORARY


@dataclass(frozen=True)
class _Prepared:
    outbox_id: int
    #: As SMTP takes it: the domain in A-labels.
    recipient: str
    data: bytes
    #: The recipient's local part is not ASCII: only a server with SMTPUTF8 can take it.
    utf8: bool


#: What DATA waits for: the record (a future `Results.add` gave) of an earlier message.
_Ready = tuple[Results, "asyncio.Future[None]"]


class SmtpSender:
    name = "smtp"

    def __init__(
        self,
        server: SmtpServer,
        *,
        mail_from: str,
        reply_to: str | None = None,
        pool_size: int = 4,
        rate_limit: float | None = None,
        timeout: float = 60.0,
        verify_tls: bool = True,
        ca_file: str | None = None,
        dkim: DkimSigner | None = None,
        envelope_from: Callable[[int], str] | None = None,
        pause_max: float = 30.0,
        helo_name: str | None = None,
    ) -> None:
        self.server = server
        #: Our name in EHLO (None: aiosmtplib's default, this machine's FQDN).
        self.helo_name = helo_name
        #: The envelope sender per outbox id (VERP, where bounces go); default the From address.
        self._envelope_from = envelope_from
        self.builder = EmailBuilder(mail_from=mail_from, reply_to=reply_to)
        self.pool_size = pool_size
        # Held to `rate_limit` a second, a batch is about five seconds of sending.
        self.limits = Limits(batch_size=max(10, int(rate_limit * 5)) if rate_limit else None)
        self.timeout = timeout
        self.dkim = dkim
        self.state = ChannelState()
        self._limiter = AsyncLimiter(rate_limit, 1) if rate_limit else None
        self._tls_context = self._make_tls_context(verify_tls, ca_file)
        self._pool: list[aiosmtplib.SMTP | None] = [None] * pool_size
        self.pause_max = pause_max
        #: Rounds in a row in which no connection could be made, since when, and why.
        self._failures = 0
        self._down_since: float | None = None
        self._unreachable: str | None = None

    @staticmethod
    def _make_tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=ca_file)
        if not verify:  # for a test relay only; the setting's default is to verify
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    # -- connections ---------------------------------------------------------------------------

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.server
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=self.timeout,
            use_tls=s.security is Security.TLS,
            start_tls=s.security is Security.STARTTLS,  # never opportunistic: plain is plain
            tls_context=self._tls_context,
            username=s.username,
            password=s.password,
            local_hostname=self.helo_name,
        )
        try:
            await client.connect()
            # Greeted now (a plain connection greets only at its first message), so what the
            # server offers is known before any message is tried.
            if client.is_ehlo_or_helo_needed:
                try:
                    await client.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await client.helo()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ServerUnreachable(f"login refused: {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise ServerUnreachable(
                f"cannot connect to {s.host}:{s.port}: {_describe(exc)}"
            ) from exc
        self.state.extra[SERVER_NOTE] = s.key
        self.state.extra[SMTPUTF8_NOTE] = "yes" if client.supports_extension("smtputf8") else "no"
        return client

    async def _connection(self, slot: int) -> aiosmtplib.SMTP:
        client = self._pool[slot]
        if client is None or not client.is_connected:
            client = self._pool[slot] = await self._connect()
        return client

    async def _drop(self, slot: int) -> None:
        client, self._pool[slot] = self._pool[slot], None
        if client is not None:
            client.close()

    # -- sending -------------------------------------------------------------------------------

    def _prepare(self, message: Outgoing, now: datetime) -> _Prepared:
        content = message.content
        assert isinstance(content, EmailContent)
        data = self.builder.build(content, now=now)
        if self.dkim is not None:
            data = self.dkim.sign(data)
        recipient = wire_address(content.to_address)
        return _Prepared(message.outbox_id, recipient, data, needs_smtputf8(recipient))

    async def _transaction(
        self, client: aiosmtplib.SMTP, item: _Prepared, ready: _Ready | None
    ) -> None:
        """MAIL, RCPT, then DATA once `ready` (an earlier message on this connection is
        recorded): the server accepts a message only at the end of DATA, so what a crash can
        send twice is bounded per connection. The record is written while MAIL and RCPT (and
        the message between) travel."""
        sender = (
            wire_address(self._envelope_from(item.outbox_id))
            if self._envelope_from is not None
            else self.builder.envelope_from
        )
        options = [f"SIZE={len(item.data)}"] if client.supports_extension("size") else []
        encoding = "ascii"
        if item.utf8 or needs_smtputf8(sender):
            if not client.supports_extension("smtputf8"):
                who = item.recipient if item.utf8 else sender
                raise _NoSmtpUtf8(_no_smtputf8(who, self.server.host))
            options.append("SMTPUTF8")
            encoding = "utf-8"
        try:
            await client.mail(sender, options=options, encoding=encoding)
            await client.rcpt(item.recipient, encoding=encoding)
            if ready is not None:
                results, record = ready
                await results.recorded(record)
            await client.data(item.data)
        except aiosmtplib.SMTPResponseException:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.rset()  # the envelope is reset for the next message
            raise

    async def _send_one(self, slot: int, item: _Prepared, ready: _Ready | None = None) -> Result:
        """One message on the slot's connection; reconnects and tries once more if the
        connection turns out dead (421, or dropped)."""
        for attempt in (1, 2):
            client = await self._connection(slot)  # ServerUnreachable propagates
            if self._limiter is not None:
                await self._limiter.acquire()
            try:
                await self._transaction(client, item, ready)
            except _NoSmtpUtf8 as exc:
                return Result(item.outbox_id, Outcome.PERMANENT, str(exc))
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code == 421:  # the server is closing this connection
                    await self._drop(slot)
                    if attempt == 1:
                        continue
                    return Result(item.outbox_id, Outcome.TEMPORARY, f"421 {exc.message}")
                return Result(item.outbox_id, classify(exc.code, exc.message),
                              f"{exc.code} {exc.message}")  # fmt: skip
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
                await self._drop(slot)
                if attempt == 1 and not isinstance(exc, aiosmtplib.SMTPTimeoutError):
                    continue
                return Result(item.outbox_id, Outcome.TEMPORARY, _describe(exc))
            except BaseException:  # cancelled mid-transaction: the connection is in no state
                await self._drop(slot)
                raise
            return Result(item.outbox_id, Outcome.SENT)
        raise AssertionError("unreachable")

    async def _worker(
        self, slot: int, queue: asyncio.Queue[Outgoing], results: Results, now: datetime
    ) -> None:
        """Send from the queue on one connection until it is empty. A connection that cannot be
        made leaves the rest to the others (or, if none can, to `send`)."""
        # Records of this connection's messages still being written, oldest first.
        recording: deque[asyncio.Future[None] | None] = deque()
        while True:
            try:
                message = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            # Built here, one at a time, so building interleaves with the other connections'
            # sending instead of holding the loop for the whole batch first.
            try:
                item = self._prepare(message, now)
            except (ValueError, TypeError, UnicodeError) as exc:
                results.add(Result(message.outbox_id, Outcome.PERMANENT, f"message: {exc}"))
                continue
            # DATA waits for the record of the message UNRECORDED places back: at most that
            # many accepted messages per connection are ever unrecorded.
            record = recording.popleft() if len(recording) >= UNRECORDED else None
            ready = None if record is None else (results, record)
            try:
                result = await self._send_one(slot, item, ready)
            except ServerUnreachable as exc:
                self._unreachable = str(exc)
                queue.put_nowait(message)  # untried: another connection, or the next round
                break
            recording.append(results.add(result))
        for previous in recording:
            if previous is not None:
                await results.recorded(previous)  # a failed record stops the batch here

    def _round_failed(self, error: str) -> float:
        """The server could not be reached in this round: pause, 5 s and doubling per failed
        round (one round, however many connections tried), up to `pause_max`. Returns the
        pause."""
        self._failures += 1
        doublings = min(self._failures - 1, 30)  # 2**n overflows a float after days of it
        pause = min(self.pause_max, PAUSE_FIRST * float(2**doublings))
        now = time.time()
        if self._down_since is None:
            self._down_since = now
        self.state.paused_until = now + pause
        since = datetime.fromtimestamp(self._down_since, UTC)
        again = datetime.fromtimestamp(now + pause, UTC)
        self.state.note = (
            f"waiting for the SMTP server {self.server.host}:{self.server.port} "
            f"(unreachable since {since:%H:%M:%S} UTC, {self._failures} failed "
            f"{'try' if self._failures == 1 else 'tries'}): next try with one connection at "
            f"{again:%H:%M:%S} UTC — {error}"
        )
        return pause

    async def send(
        self, messages: Sequence[Outgoing], report: Report | None = None
    ) -> list[Result]:
        # Records go in groups of half what the connections may hold unrecorded: written while
        # the messages after them travel, so a connection seldom waits for one (bench.email:
        # 0.81-0.83 of a bare client, against 0.75-0.76 writing only when a connection waits).
        results = Results(report, group=max(1, self.pool_size * (UNRECORDED - 1) // 2))
        paused = self.state.paused_until
        if paused is not None and paused > time.time():
            wait = paused - time.time()
            for m in messages:
                note = self.state.note
                results.add(Result(m.outbox_id, Outcome.TEMPORARY, note, retry_after=wait))
            return results
        now = datetime.now(UTC)
        queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        for message in messages:
            queue.put_nowait(message)
        self._unreachable = None
        if self._failures:
            # After an outage, one connection tries first; the pool follows once it is in.
            try:
                await self._connection(0)
            except ServerUnreachable as exc:
                self._unreachable = str(exc)
        if not queue.empty() and self._unreachable is None:
            workers = min(self.pool_size, queue.qsize())
            async with asyncio.TaskGroup() as group:  # one failing stops the others
                for slot in range(workers):
                    group.create_task(self._worker(slot, queue, results, now))
        if not queue.empty():  # no connection could be made: the round failed
            error = self._unreachable or "no connection"
            pause = self._round_failed(error)
            while not queue.empty():
                rest = queue.get_nowait()
                results.add(Result(rest.outbox_id, Outcome.TEMPORARY, error, retry_after=pause))
        elif self._failures:
            self._failures = 0
            self._down_since = None
            self.state.paused_until = None
            self.state.note = ""
        return results

    async def close(self) -> None:
        for slot, client in enumerate(self._pool):
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
            self._pool[slot] = None


def _no_smtputf8(address: str, host: str) -> str:
    return (
        f"{address} has non-ASCII characters before the @, which needs SMTPUTF8, and {host} "
        "does not offer it"
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        text += f" (certificate: {cause.verify_message})"
    return text
