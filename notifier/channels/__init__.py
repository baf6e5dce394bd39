"""Channels: where messages leave notifier. They know nothing of the store; each declares its
limits as data and implements one `async send()`."""
