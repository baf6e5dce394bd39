"""What every request handler needs, built once per app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from jinja2.sandbox import SandboxedEnvironment

from notifier.channels.base import Sender
from notifier.config import Settings
from notifier.links import Links
from notifier.store.engine import Store
from notifier.web.flood import SlidingWindow


@dataclass
class WebState:
    settings: Settings
    store: Store
    links: Links
    env: SandboxedEnvironment
    #: Whether the scheduler of this process runs (None: `notifier web` alone, no scheduler).
    scheduler_alive: Callable[[], bool] | None = field(default=None)
    #: Makes the installation's email sender, for the console's "send a test to myself" (the
    #: web layer cannot build one: notifier.senders sits above it). None: no test sends here.
    email_sender: Callable[[], Sender] | None = field(default=None)
    #: Sign-up floods: 3 requests an hour per address, 20 per 10 minutes per client.
    flood_by_address: SlidingWindow = field(default_factory=lambda: SlidingWindow(3, 3600))
    flood_by_client: SlidingWindow = field(default_factory=lambda: SlidingWindow(20, 600))
    #: Console sign-in failures: 5 per 15 minutes per account, 20 per 15 minutes per client.
    login_by_account: SlidingWindow = field(default_factory=lambda: SlidingWindow(5, 900))
    login_by_client: SlidingWindow = field(default_factory=lambda: SlidingWindow(20, 900))
