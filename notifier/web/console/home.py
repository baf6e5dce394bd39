"""/admin: the first section the user may open (every role may open the dashboard)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from notifier.web.console.access import SECTIONS, Signed, see_other

router = APIRouter(include_in_schema=False)


@router.get("/admin")
async def home(signed: Signed) -> Response:
    first = next(href for area, _, href in SECTIONS if signed.actor.may(area))
    return see_other(first)
