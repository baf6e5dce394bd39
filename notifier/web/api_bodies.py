"""The JSON bodies the admin API takes: their fields, limits and rules, which /openapi.json
shows, and what each becomes for the application layer (notifier.app)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from notifier import app as tasks
from notifier import limits
from notifier.domain.text_fields import Body, Link, Locale, SourceName, Title
from notifier.domain.translations import Language, UpdateTranslation, UpdateTranslations
from notifier.numbers import MAX_ID
from notifier.web.api_input import OneLine


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    date: dt.date | None = None
    body: Body = ""
    source: SourceName | None = None
    url: Link | None = None
    urgent: StrictBool = False
    #: The title and body in other languages: {"de": {"title": …, "body": …}}.
    translations: UpdateTranslations = {}


class UpdateEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    date: dt.date | None = None
    body: Body | None = None
    source: SourceName | None = None
    url: Link | None = None
    urgent: StrictBool | None = None
    #: By language, its title and body (replacing what that language had), or null to remove
    #: that language's; languages not named keep theirs.
    translations: (
        Annotated[dict[Language, UpdateTranslation | None], Field(max_length=limits.TRANSLATIONS)]
        | None
    ) = None


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    email: Annotated[str, Field(min_length=3, max_length=limits.EMAIL)]
    # One rule for text at every web boundary (api_input), the length from limits.
    name: Annotated[OneLine, Field(max_length=limits.NAME)] = ""
    follows: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=100)] = []
    cadence: Literal["instant", "daily", "weekly"] = "instant"
    channel: Literal["email", "telegram"] = "email"
    mailing_list: str | None = Field(default=None, alias="list", max_length=120)
    locale: Locale | None = None
    time_zone: Annotated[
        str | None, Field(max_length=limits.TIME_ZONE, examples=["Asia/Almaty"])
    ] = None
    digest_schedule: Annotated[str | None, Field(max_length=40, examples=["fri 18:30"])] = None
    telegram_chat_id: Annotated[
        int | None, Field(ge=-limits.TELEGRAM_CHAT_ID, le=limits.TELEGRAM_CHAT_ID)
    ] = None

    def form(self) -> tasks.SubscriberForm:
        """The body as the application layer takes a subscriber: each follow named by its
        place in `follows` (`follows.2`) while its token is read, and as `follows` after."""
        return tasks.SubscriberForm(
            email=self.email,
            name=self.name,
            follows=[
                tasks.FollowEntry(token, f"follows.{n}", origin="follows")
                for n, token in enumerate(self.follows)
            ],
            cadence=self.cadence,
            channel=self.channel,
            locale=self.locale,
            time_zone=self.time_zone,
            digest_schedule=self.digest_schedule,
            telegram_chat_id=self.telegram_chat_id,
            mailing_list=self.mailing_list,
        )


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=3, max_length=limits.EMAIL)]
    # One rule for text at every web boundary (api_input), the length from limits.
    name: Annotated[OneLine, Field(max_length=limits.NAME)] = ""


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: Annotated[int, Field(ge=1, le=366)] = 7


class RetryIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        # What the check below asks, for clients and fuzzers.
        json_schema_extra={
            "anyOf": [
                {"required": ["ids"], "properties": {"ids": {"minItems": 1}}},
                {"required": ["failed"], "properties": {"failed": {"const": True}}},
            ]
        },
    )

    ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(max_length=10_000)] = []
    failed: StrictBool = False

    @model_validator(mode="after")
    def _ids_or_failed(self) -> RetryIn:
        if not self.ids and not self.failed:
            raise PydanticCustomError("missing", "give ids or failed: true")
        return self
