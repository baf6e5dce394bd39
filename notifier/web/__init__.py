"""The web app: one-click unsubscribe (RFC 8058), health and metrics. FastAPI, pages rendered
from templates/web/ with the same (overridable) templates as messages."""

#: What other packages may import from this one (modules and names); the rest is its own.
#: tests/test_layers.py holds every import from outside to it.
__all__ = [
    "app",
]
