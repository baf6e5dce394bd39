"""The web app: one-click unsubscribe (RFC 8058), health and metrics. FastAPI, pages rendered
from templates/web/ with the same (overridable) templates as messages."""
