"""Render: Jinja2 templates to email (text, HTML) and Telegram HTML."""
