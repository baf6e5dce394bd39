"""CSRF by double submit: a random cookie, the same value in every form; a POST whose field does
not match its cookie changes nothing. (One-click unsubscribe is exempt: RFC 8058 forbids
cookies there, and the signed URL is its own proof.)"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

COOKIE = "notifier_csrf"


def token_for(request: Request) -> str:
    return request.cookies.get(COOKIE) or secrets.token_urlsafe(24)


def remember(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure)


def valid(request: Request, sent: str) -> bool:
    cookie = request.cookies.get(COOKIE, "")
    # Bytes: compare_digest refuses non-ASCII str (a 500 instead of a 403).
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())
