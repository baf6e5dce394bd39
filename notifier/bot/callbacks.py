"""Inline button data: short strings (Telegram allows 64 bytes) saying what a press does.

f:c:KZ        follow a country          u:c:KZ     unfollow it
f:p:<slug>    follow a person           u:p:<slug> unfollow them
f:i:<id>      …by case id when the slug does not fit
u:a           unfollow 'every case'     v:p:<slug> show a person (/case)
k:weekly      cadence of every follow   s:<id> / x:<id>  a group (un)subscribes a list
l:de          the chat's language (a private chat's, or a group's when an admin presses)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pycountry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import locales
from notifier.domain import Cadence, Scope
from notifier.numbers import as_id
from notifier.store.chats import Target
from notifier.store.models import Case

MAX_BYTES: Final = 64
FOLLOW: Final = "f"
UNFOLLOW: Final = "u"
VIEW: Final = "v"
CADENCE: Final = "k"
SUBSCRIBE: Final = "s"
UNSUBSCRIBE: Final = "x"
LANGUAGE: Final = "l"
TARGET_ACTIONS: Final = frozenset({FOLLOW, UNFOLLOW, VIEW})


@dataclass(frozen=True)
class Pressed:
    """A button press, parsed: action, kind of thing ('c', 'p', 'i', 'a' or ''), and value."""

    action: str
    kind: str = ""
    value: str = ""


def target_data(action: str, target: Target) -> str:
    if target.scope is Scope.ALL:
        return f"{action}:a"
    if target.scope is Scope.COUNTRY:
        return f"{action}:c:{target.country}"
    assert target.case is not None
    data = f"{action}:p:{target.case.slug}"
    return data if len(data.encode()) <= MAX_BYTES else f"{action}:i:{target.case.id}"


def cadence_data(cadence: Cadence) -> str:
    return f"{CADENCE}:{cadence.value}"


def list_data(action: str, list_id: int) -> str:
    return f"{action}:{list_id}"


def language_data(language: str) -> str:
    return f"{LANGUAGE}:{language}"


def parse(data: str | None) -> Pressed | None:
    """The press, or None for data this bot never made (or made by an older version)."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    action, _, rest = data.partition(":")
    if action in TARGET_ACTIONS:
        kind, _, value = rest.partition(":")
        if (kind == "a" and not value) or (kind in ("c", "p", "i") and value):
            return Pressed(action, kind, value)
        return None
    if action == CADENCE and rest in {c.value for c in Cadence}:
        return Pressed(action, value=rest)
    if action in (SUBSCRIBE, UNSUBSCRIBE) and as_id(rest) is not None:  # no row past MAX_ID
        return Pressed(action, value=rest)
    if action == LANGUAGE and rest in locales.SHIPPED:
        return Pressed(action, value=rest)
    return None


async def target_of_press(
    session: AsyncSession, pressed: Pressed, *, published_only: bool = True
) -> Target | None:
    """What the button points at, if it still exists. A case unpublished since is gone, except
    for unfollowing it (`published_only=False`)."""
    if pressed.kind == "a":
        return Target(Scope.ALL)
    if pressed.kind == "c":
        country = pycountry.countries.get(alpha_2=pressed.value)
        return None if country is None else Target.of_country(country.alpha_2)
    if pressed.kind == "p":
        query = select(Case).where(Case.slug == pressed.value)
    elif pressed.kind == "i" and (case_id := as_id(pressed.value)) is not None:
        query = select(Case).where(Case.id == case_id)
    else:
        return None
    if published_only:
        query = query.where(Case.published)
    case = await session.scalar(query)
    return None if case is None else Target.of_case(case)
