"""What a mailing-list file says, checked: the list's name, what it follows, how often and
when, on which channels, its own templates and its members. Read from YAML by notifier.ingest
(format: subscribers/README.md), applied to the store by notifier.store.lists."""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from notifier import limits
from notifier.domain.case_specs import SLUG
from notifier.domain.schedule import parse_schedule
from notifier.domain.subscriber_specs import (
    FollowSpec,
    SubscriberSpec,
    check_email,
    check_time_zone,
    parse_follow_token,
)
from notifier.domain.text_fields import Description, Locale, Name, Slug, too_long
from notifier.domain.vocabulary import Cadence, Channel

#: A list's own templates are a folder under `lists/` in templates_dir: this is its name.
LIST_TEMPLATE_NAME = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")


class MemberSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str
    name: Name = ""
    locale: Locale | None = None
    time_zone: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)


def _check_follow(value: str) -> str:
    parse_follow_token(value, cadence=Cadence.WEEKLY, channel=Channel.EMAIL)
    return value


#: One follow, checked on its own so a problem names its item (and so its line).
FollowToken = Annotated[str, AfterValidator(_check_follow)]


class ListSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: Slug
    name: Annotated[Name, Field(min_length=1)]
    description: Description = ""
    follows: list[FollowToken] = Field(min_length=1)
    cadence: Cadence = Cadence.WEEKLY
    schedule: str = "mon 07:00"
    time_zone: str = "UTC"
    channels: list[Channel] = [Channel.EMAIL]
    #: Telegram messages cannot be forwarded or saved (for lists serving people at risk).
    protect_content: bool = False
    #: The list's own digest templates: `lists/<template>/…` under templates_dir.
    template: str | None = None
    members: list[MemberSpec] = []

    #: "FILE:LINE" of each follow, once `locate` knows the file; for problems found in the store.
    _follow_where: dict[int, str] = PrivateAttr(default_factory=dict)
    _template_where: str = PrivateAttr(default="")

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        # Members may be bare addresses; follows may be one string.
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("follows"), str):
                data["follows"] = [data["follows"]]
            members = data.get("members")
            if isinstance(members, list):
                data["members"] = [{"email": m} if isinstance(m, str) else m for m in members]
        return data

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("use lower-case letters, digits and single hyphens")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_time_zone(value)

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None and len(value) > limits.LIST_TEMPLATE:
            raise ValueError(too_long(len(value), limits.LIST_TEMPLATE))
        if value is not None and not LIST_TEMPLATE_NAME.fullmatch(value):
            raise ValueError("a folder name under lists/: lower-case letters, digits, - and _")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule_fits_cadence(cls, value: str, info: ValidationInfo) -> str:
        # A field validator (not a model one), so it runs, and its line is named, even when
        # other fields have problems too. `cadence` comes first; if it is bad, that is reported.
        cadence = info.data.get("cadence")
        if isinstance(cadence, Cadence) and cadence is not Cadence.INSTANT:
            return str(parse_schedule(value, cadence))
        return value

    @field_validator("members")
    @classmethod
    def _members_once(cls, members: list[MemberSpec]) -> list[MemberSpec]:
        duplicates = {m.email for m in members if sum(x.email == m.email for x in members) > 1}
        if duplicates:
            raise ValueError(f"members listed twice: {', '.join(sorted(duplicates))}")
        return members

    def locate(self, follows: dict[int, str], template: str) -> None:
        """Remember where ("FILE:LINE") each follow and the template setting were written, so a
        case the store does not know is named by file and line like every other problem."""
        self._follow_where = dict(follows)
        self._template_where = template

    @property
    def template_where(self) -> str:
        """ "FILE:LINE" of the `template` setting, once `locate` knows the file."""
        return self._template_where

    def follow_specs(self) -> list[FollowSpec]:
        return [
            dataclasses.replace(
                parse_follow_token(v, cadence=self.cadence, channel=Channel.EMAIL),
                where=self._follow_where.get(i),
                origin=f"follows.{i}",
            )
            for i, v in enumerate(self.follows)
        ]

    def member_specs(self, where: str) -> list[SubscriberSpec]:
        return [
            SubscriberSpec(
                where=f"{where} member {m.email}",
                email=m.email,
                name=m.name,
                locale=m.locale,
                time_zone=m.time_zone,
            )
            for m in self.members
        ]
