"""Channels: where messages leave notifier. They know nothing of the store; each declares its
limits as data and implements one `async send()`."""

#: What other packages may import from this one (modules and names); the rest is its own.
#: tests/test_layers.py holds every import from outside to it.
__all__ = [
    "base",
    "dkim",
    "maildir",
    "smtp",
    "telegram",
    "transcript",
]
