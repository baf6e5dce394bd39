"""An SMTP sink for benchmarks: accepts every message as fast as aiosmtpd can, counts messages
and bytes, and stores nothing.

    python -m bench.smtp_sink --port 0 [--tls none|starttls|implicit --ca-file ca.pem]
                                       [--delay 0.02] [--log accepted.log]

Prints `READY <port>` on stdout once it listens. On SIGTERM (or SIGINT) it prints
`COUNT <messages> <bytes>` and exits 0. With `--tls starttls` or `implicit` it makes a
throwaway CA and a certificate for 127.0.0.1 and localhost with trustme (a test dependency), and
writes the CA certificate to `--ca-file` for the client to trust.

From a benchmark script:

    proc, port = start_sink()
    ...  # send to 127.0.0.1:port
    messages, size = stop_sink(proc)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import select
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Literal

from aiosmtpd.smtp import SMTP, Envelope, Session

ROOT = Path(__file__).resolve().parent.parent
Tls = Literal["none", "starttls", "implicit"]


class Counter:
    """The sink's aiosmtpd handler: MAIL and RCPT take aiosmtpd's defaults (accept).

    With `delay`, each message is held that long before the 250 (a slow server). With `log`,
    each message writes `BEGIN <n>` when its data has arrived and `ACCEPT <n> <recipient>
    <Message-ID>` just before the 250, flushed at once: what a crash test reads to tell what
    the server accepted, and what was on the wire at a given moment."""

    def __init__(self, *, delay: float = 0.0, log: Path | None = None) -> None:
        self.messages = 0
        self.bytes = 0
        self.delay = delay
        self._log = log.open("a", encoding="utf-8", buffering=1) if log is not None else None
        self._started = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._log is not None:
            self._started += 1
            number = self._started
            self._log.write(f"BEGIN {number}\n")
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages += 1
        self.bytes += len(envelope.original_content or b"")
        if self._log is not None:
            headers = BytesHeaderParser().parsebytes(envelope.original_content or b"")
            recipient = envelope.rcpt_tos[0] if envelope.rcpt_tos else "-"
            self._log.write(f"ACCEPT {number} {recipient} {headers.get('Message-ID', '-')}\n")
        return "250 OK"


class _Sink(SMTP):
    """Keeps track of its open connections, so the sink can close them when it stops."""

    def __init__(
        self,
        live: set[_Sink],
        counter: Counter,
        loop: asyncio.AbstractEventLoop,
        tls_context: ssl.SSLContext | None,
    ) -> None:
        self.live = live
        super().__init__(
            counter,
            hostname="sink.test",  # not socket.getfqdn() on every connection
            loop=loop,
            enable_SMTPUTF8=True,
            tls_context=tls_context,
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.live.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.live.discard(self)
        super().connection_lost(error)


def _tls_context(ca_file: Path) -> ssl.SSLContext:
    import trustme  # only the TLS modes need it

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


async def serve(
    host: str,
    port: int,
    tls: Tls,
    ca_file: Path | None,
    stop_on_eof: bool = False,
    counter: Counter | None = None,
) -> Counter:
    """Listen until SIGTERM or SIGINT (or, with `stop_on_eof`, the end of stdin); print READY
    first and return the counts."""
    loop = asyncio.get_running_loop()
    counter = counter or Counter()
    live: set[_Sink] = set()
    context = None
    if tls != "none":
        if ca_file is None:
            raise ValueError(f"tls={tls!r} needs ca_file (where to write the CA certificate)")
        context = _tls_context(ca_file)

    def session() -> _Sink:
        return _Sink(live, counter, loop, context if tls == "starttls" else None)

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if stop_on_eof:
        stdin = sys.stdin.fileno()

        def read_stdin() -> None:
            if not os.read(stdin, 4096):
                loop.remove_reader(stdin)
                stop.set()

        loop.add_reader(stdin, read_stdin)
    server = await loop.create_server(
        session, host, port, ssl=context if tls == "implicit" else None, backlog=1024
    )
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    await stop.wait()
    server.close()
    for sink in list(live):
        if isinstance(sink.transport, asyncio.Transport):
            sink.transport.abort()
    await asyncio.sleep(0)
    return counter


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.smtp_sink", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    parser.add_argument("--ca-file", type=Path, help="with --tls: write the CA certificate here")
    parser.add_argument(
        "--stop-on-eof",
        action="store_true",
        help="also stop at the end of stdin (start_sink: so the sink dies with its parent)",
    )
    parser.add_argument("--delay", type=float, default=0.0, help="hold each message (s)")
    parser.add_argument("--log", type=Path, help="write BEGIN/ACCEPT lines here")
    args = parser.parse_args(argv)
    if args.tls != "none" and args.ca_file is None:
        parser.error(f"--tls {args.tls} needs --ca-file (where to write the CA certificate)")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    counter = Counter(delay=args.delay, log=args.log)
    counter = asyncio.run(
        serve(args.host, args.port, args.tls, args.ca_file, args.stop_on_eof, counter)
    )
    try:
        print(f"COUNT {counter.messages} {counter.bytes}", flush=True)
    except BrokenPipeError:  # nobody is listening any more (the parent died)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def start_sink(
    *,
    tls: Tls = "none",
    ca_file: Path | None = None,
    timeout: float = 10.0,
    delay: float = 0.0,
    log: Path | None = None,
) -> tuple[subprocess.Popen[str], int]:
    """Start `python -m bench.smtp_sink --port 0` and wait for its READY line. Returns the
    process and its port; stop it with `stop_sink` (or SIGTERM). Its stderr is this one's; it
    also stops if this process dies."""
    command = [sys.executable, "-m", "bench.smtp_sink", "--port", "0", "--tls", tls]
    command.append("--stop-on-eof")
    if delay:
        command += ["--delay", str(delay)]
    if log is not None:
        command += ["--log", str(log)]
    if ca_file is not None:
        command += ["--ca-file", str(ca_file)]
    # stdin is a pipe nobody writes to: when this process dies, the sink sees EOF and stops.
    proc = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = ""
    while not line:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(remaining, 0))
        if not ready:
            proc.kill()
            proc.wait()
            raise TimeoutError(f"the SMTP sink did not print READY within {timeout} s")
        line = proc.stdout.readline()
        if not line:  # EOF: it exited
            proc.wait()
            raise RuntimeError(f"the SMTP sink exited with status {proc.returncode}")
    word, _, port = line.strip().partition(" ")
    if word != "READY" or not port.isdigit():
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the SMTP sink printed {line!r}, not READY <port>")
    return proc, int(port)


def stop_sink(proc: subprocess.Popen[str], *, timeout: float = 10.0) -> tuple[int, int]:
    """SIGTERM the sink and return its (messages, bytes) from the COUNT line."""
    proc.terminate()
    out, _ = proc.communicate(timeout=timeout)
    for line in out.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "COUNT":
            return int(words[1]), int(words[2])
    raise RuntimeError(f"the SMTP sink exited ({proc.returncode}) without COUNT: {out!r}")


if __name__ == "__main__":
    sys.exit(main())
