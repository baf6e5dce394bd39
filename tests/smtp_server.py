"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 at a port the OS picks, run in a thread
with its own event loop, so a test and the code under test can run their own loop freely.

    with SmtpServer() as server:
        ...  # send to (server.host, server.port) with aiosmtplib
        assert server.received[0].message["Subject"] == "Hello"

It records every accepted message (`received`) and every message refused at the end of DATA by
an injected reply (`refused`), counts TCP connections (`connections`) and
successful logins (`auth_logins`), speaks STARTTLS or implicit TLS with a trustme certificate,
offers AUTH PLAIN/LOGIN, and injects faults on request: a chosen reply at MAIL, RCPT or DATA, a
421 that closes the connection, a connection dropped after the message, refused connections.
`hold()` keeps every message waiting for its reply until `release()`: a send that lasts
exactly as long as a test needs.

The server accepts connections itself (`sock_accept`, then `connect_accepted_socket`) instead of
`loop.create_server` or aiosmtpd's `Controller`: the Controller cannot take port 0 (it connects
to its own port to start up, which would also count as a connection), and owning the listening
socket lets `refuse_connections` close it and reopen it on the same port."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.loop_thread import LoopThread

HOST = "127.0.0.1"
SERVER_NAME = "smtp.test"

Stage = Literal["mail", "rcpt", "data"]
TlsMode = Literal["none", "starttls", "implicit"]
_Event = Literal["mail", "rcpt", "data", "421", "drop"]


@dataclass
class Received:
    """One message the server accepted (answered 250 after DATA)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    """The message as it arrived, after the DATA dot-unstuffing; CRLF line ends kept."""
    message: EmailMessage = field(init=False, repr=False, compare=False)
    """`data` parsed with `email.message_from_bytes(data, policy=email.policy.default)`; sent
    with SMTPUTF8, its headers may be UTF-8 (RFC 6532), so it is parsed as UTF-8 text."""
    peer: tuple[str, int]
    connection_id: int
    """Which TCP connection carried it: 1 for the first the server accepted, and so on."""
    tls: bool = False
    """Whether the connection was encrypted (STARTTLS or implicit TLS) when DATA ended."""
    mail_options: list[str] = field(default_factory=list)
    """The options the client gave with MAIL FROM (e.g. `SMTPUTF8`, `SIZE=…`)."""
    helo: str | None = None
    """The name the client gave in EHLO/HELO."""

    def __post_init__(self) -> None:
        if any(option.upper() == "SMTPUTF8" for option in self.mail_options):
            text = self.data.decode("utf-8", errors="surrogateescape")
            self.message = email.message_from_string(text, policy=email.policy.default)
        else:
            self.message = email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class _Fault:
    event: _Event
    reply: str
    times: int
    address: str | None = None


class SmtpServer(LoopThread):
    _thread_name = "smtp-server"

    """A real SMTP server on 127.0.0.1 in a background thread. See the module docstring.

    - `tls="starttls"` offers STARTTLS (and with `require_starttls=True` answers 530 to MAIL
      before it); `tls="implicit"` speaks TLS from the first byte (SMTPS). Both need `cert`.
    - `auth=(user, password)` offers AUTH PLAIN and LOGIN and answers 530 to MAIL without a
      successful AUTH. Over `tls="starttls"`, AUTH is offered only after STARTTLS.
    - `smtputf8=False` does not offer SMTPUTF8 (RFC 6531), as many servers still do not: MAIL
      with the SMTPUTF8 option, or an address that is not ASCII, is refused.
    """

    host: str
    port: int
    received: list[Received]
    refused: list[Received]
    connections: int
    auth_logins: list[str]

    def __init__(
        self,
        *,
        tls: TlsMode = "none",
        cert: trustme.LeafCert | None = None,
        require_starttls: bool = False,
        auth: tuple[str, str] | None = None,
        smtputf8: bool = True,
    ) -> None:
        if tls not in ("none", "starttls", "implicit"):
            raise ValueError(f"tls must be 'none', 'starttls' or 'implicit', not {tls!r}")
        if tls != "none" and cert is None:
            raise ValueError(f"tls={tls!r} needs a cert (e.g. ca.issue_cert('127.0.0.1'))")
        if require_starttls and tls != "starttls":
            raise ValueError("require_starttls=True needs tls='starttls'")
        self.tls = tls
        self.require_starttls = require_starttls
        self.auth = auth
        self.smtputf8 = smtputf8
        self.host = HOST
        self.port = 0
        self.received = []
        self.refused = []
        self.connections = 0
        self.auth_logins = []
        self._tls_context: ssl.SSLContext | None = None
        if cert is not None and tls != "none":
            self._tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(self._tls_context)
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        # Open unless hold() closed it; used on the server's loop only.
        self._gate = asyncio.Event()
        self._gate.set()
        self.held = 0
        super().__init__()
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        # Sockets accepted but not yet an SMTP session (TLS handshake under way).
        self._pending: dict[asyncio.Task[None], socket.socket] = {}
        self._sessions: set[_Session] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    # -- listening ---------------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._listener is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            # Lets the port be bound again while connections accepted on it are still open or
            # in TIME_WAIT (refuse_connections(False)); two listeners still cannot share it.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError as error:
                if self.port:
                    raise OSError(
                        error.errno, f"cannot listen on {self.host}:{self.port} again: {error}"
                    ) from error
                raise
            sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._accepting = asyncio.get_running_loop().create_task(self._accept(sock))

    async def _unlisten(self) -> None:
        task, sock = self._accepting, self._listener
        self._accepting = self._listener = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if sock is not None:
            sock.close()

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(listener)
            with self._lock:
                self.connections += 1
                connection_id = self.connections
            task = loop.create_task(self._open_session(conn, connection_id))
            self._pending[task] = conn
            task.add_done_callback(self._pending_done)

    def _pending_done(self, task: asyncio.Task[None]) -> None:
        self._pending.pop(task, None)

    async def _open_session(self, conn: socket.socket, connection_id: int) -> None:
        loop = asyncio.get_running_loop()
        implicit = self._tls_context if self.tls == "implicit" else None
        try:
            await loop.connect_accepted_socket(
                lambda: self._session(loop, connection_id), conn, ssl=implicit
            )
        except OSError:
            # The TLS handshake failed (say, the client does not trust the certificate):
            # asyncio has closed the connection already; the client sees the error.
            conn.close()

    def _session(self, loop: asyncio.AbstractEventLoop, connection_id: int) -> _Session:
        tls = self.tls
        return _Session(
            self,
            connection_id,
            hostname=SERVER_NAME,
            loop=loop,
            enable_SMTPUTF8=self.smtputf8,
            tls_context=self._tls_context if tls == "starttls" else None,
            require_starttls=self.require_starttls,
            # aiosmtpd refuses AUTH (538) unless STARTTLS was issued; it does not count
            # implicit TLS as TLS. So AUTH is allowed "without TLS" except when STARTTLS is
            # on offer, where it must come first.
            auth_require_tls=tls == "starttls",
            authenticator=self._authenticate if self.auth is not None else None,
        )

    async def _shutdown(self) -> None:
        await self._unlisten()
        for session in list(self._sessions):
            if isinstance(session.transport, asyncio.Transport):
                session.transport.abort()
            elif session.transport is not None:
                session.transport.close()
        pending = dict(self._pending)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for conn in pending.values():
            conn.close()
        # Let connection_lost run for the aborted transports; it cancels aiosmtpd's tasks.
        for _ in range(3):
            await asyncio.sleep(0)
        current = asyncio.current_task()
        rest = [task for task in asyncio.all_tasks() if task is not current]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def refuse_connections(self, on: bool) -> None:
        """`True`: close the listening socket, so new connections are refused (connections
        already open carry on). `False`: listen again, on the same port."""
        self._call(self._unlisten() if on else self._listen())

    def go_down(self) -> None:
        """An outage: refuse new connections and cut the open ones."""
        self._call(self._go_down())

    async def _go_down(self) -> None:
        await self._unlisten()
        for session in list(self._sessions):
            if isinstance(session.transport, asyncio.Transport):
                session.transport.abort()

    # -- faults ------------------------------------------------------------------------------

    def reply(
        self,
        stage: Stage,
        code: int,
        text: str,
        *,
        times: int = 1,
        address: str | None = None,
    ) -> None:
        """Answer `code text` instead of accepting, for the next `times` matching MAIL, RCPT or
        end of DATA. With `address`, only a MAIL from it, a RCPT to it, or a DATA whose
        recipients include it matches (compared case-insensitively)."""
        if stage not in ("mail", "rcpt", "data"):
            raise ValueError(f"stage must be 'mail', 'rcpt' or 'data', not {stage!r}")
        if not 400 <= code <= 599:
            raise ValueError(f"reply code must be 4xx or 5xx, not {code}")
        if "\r" in text or "\n" in text:
            raise ValueError("reply text must be one line")
        self._add(_Fault(stage, f"{code} {text}", times, address))

    def reply_421(self, *, times: int = 1) -> None:
        """At the end of the next `times` DATA, answer `421 4.7.0 Closing connection` and close
        the connection. The message is not recorded."""
        self._add(_Fault("421", "421 4.7.0 Closing connection", times))

    def drop_after_data(self, *, times: int = 1) -> None:
        """For the next `times` messages, read the whole message after DATA, then close the
        connection without a reply. The message is not recorded."""
        self._add(_Fault("drop", "", times))

    def hold(self) -> None:
        """From now on, each message waits after its DATA, unanswered, until `release()`.
        `held` counts the messages waiting."""
        self._call(self._open_gate(False))

    def release(self) -> None:
        """Answer the messages held, and hold no more."""
        self._call(self._open_gate(True))

    async def _open_gate(self, open_: bool) -> None:
        if open_:
            self._gate.set()
        else:
            self._gate.clear()

    async def _wait_at_gate(self) -> None:
        if self._gate.is_set():
            return
        with self._lock:
            self.held += 1
        try:
            await self._gate.wait()
        finally:
            with self._lock:
                self.held -= 1

    def _add(self, fault: _Fault) -> None:
        if fault.times < 1:
            raise ValueError(f"times must be at least 1, not {fault.times}")
        with self._lock:
            self._faults.append(fault)

    def _take(self, event: _Event, addresses: Sequence[str]) -> str | None:
        """The reply of the first armed fault that matches, using up one of its times."""
        wanted = {address.casefold() for address in addresses}
        with self._lock:
            for fault in self._faults:
                if fault.event != event:
                    continue
                if fault.address is not None and fault.address.casefold() not in wanted:
                    continue
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault.reply
        return None

    # -- aiosmtpd hooks (run on the server's loop) -------------------------------------------

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        assert self.auth is not None
        user, password = self.auth
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        ):
            with self._lock:
                self.auth_logins.append(user)
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def _record(self, received: Received, *, refused: bool = False) -> None:
        with self._lock:
            (self.refused if refused else self.received).append(received)


class _Session(SMTP):
    """aiosmtpd's SMTP protocol for one connection, with the server's hooks."""

    def __init__(self, owner: SmtpServer, connection_id: int, **kwargs: Any) -> None:
        self.owner = owner
        self.connection_id = connection_id
        super().__init__(_Hooks(owner), **kwargs)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # also after STARTTLS, with the TLS transport
        self.owner._sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.owner._sessions.discard(self)
        super().connection_lost(error)

    async def close_now(self) -> None:
        """Close the connection and wait to be cancelled, as aiosmtpd is when a client hangs
        up: nothing more is read or written on it."""
        if self.transport is not None:
            self.transport.close()
        await asyncio.get_running_loop().create_future()


class _Hooks:
    """aiosmtpd's handler: hook methods, found by name (handle_<COMMAND>)."""

    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to an EHLO hook
        if self.owner.auth is None:
            # aiosmtpd offers AUTH (always failing) even without credentials; a real server
            # without AUTH does not.
            responses = [line for line in responses if not line[4:].upper().startswith("AUTH")]
        return responses

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.owner.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        reply = self.owner._take("mail", [address])
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.owner._take("rcpt", [address])
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(server, _Session)
        owner = self.owner
        await owner._wait_at_gate()
        recipients = list(envelope.rcpt_tos)
        if owner._take("drop", recipients) is not None:
            await server.close_now()
        reply = owner._take("421", recipients)
        if reply is not None:
            await server.push(reply)
            await server.close_now()
        reply = owner._take("data", recipients)
        assert envelope.mail_from is not None
        assert envelope.original_content is not None
        assert server.transport is not None
        peer = server.transport.get_extra_info("peername")
        owner._record(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=recipients,
                data=bytes(envelope.original_content),
                peer=(str(peer[0]), int(peer[1])),
                connection_id=server.connection_id,
                tls=server.transport.get_extra_info("ssl_object") is not None,
                mail_options=list(envelope.mail_options),
                helo=session.host_name,
            ),
            refused=reply is not None,
        )
        return reply or "250 OK"


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    """A certificate authority for the test run; `tls_ca.issue_cert("127.0.0.1", "localhost")`
    gives the server a certificate, `tls_ca.configure_trust(ssl.create_default_context())` a
    client context that trusts it."""
    return trustme.CA()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no AUTH), stopped after the test."""
    with SmtpServer() as server:
        yield server
