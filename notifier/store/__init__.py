"""The store: cases and their updates, subscribers, subscriptions and mailing lists."""

#: What other packages may import from this one (modules and names); the rest is its own.
#: tests/test_layers.py holds every import from outside to it.
__all__ = [
    "api_tokens",
    "as_json",
    "audit",
    "cases",
    "channel_health",
    "chats",
    "console_sessions",
    "cursors",
    "engine",
    "lists",
    "models",
    "outbox",
    "preferences",
    "reach",
    "signups",
    "subscribers",
    "updates",
    "upsert",
    "users",
    "views",
    "workers",
]
