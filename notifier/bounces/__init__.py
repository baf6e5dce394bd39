"""Bounces that arrive after a message was accepted: VERP envelope senders, and the reading of
the bounce Maildir (notifier.bounces.process)."""

#: What other packages may import from this one (modules and names); the rest is its own.
#: tests/test_layers.py holds every import from outside to it.
__all__ = [
    "process",
    "verp",
]
