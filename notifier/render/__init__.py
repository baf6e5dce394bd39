"""Render: Jinja2 templates to email (text, HTML) and Telegram HTML."""

#: What other packages may import from this one (modules and names); the rest is its own.
#: tests/test_layers.py holds every import from outside to it.
__all__ = [
    "marks",
    "messages",
    "telegram_html",
    "templates",
]
