"""Mailing-list files: one YAML file per list under subscribers/ (format: subscribers/README.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from notifier.domain import Cadence, Channel
from notifier.errors import InputError, Problem
from notifier.ingest.case_files import SLUG
from notifier.ingest.subscriber_rows import (
    FollowSpec,
    SubscriberSpec,
    check_email,
    check_time_zone,
    parse_follow_token,
)
from notifier.ingest.text_fields import Description, Locale, Name, Slug, friendly_reason
from notifier.ingest.yaml_lines import DataLoader, yaml_line, yaml_problem
from notifier.render.templates import LIST_TEMPLATE_NAME
from notifier.schedule import parse_schedule


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

    def locate(self, file: Path, node: yaml.Node | None) -> None:
        """Remember the line of each follow, so a case the store does not know is named by
        file and line like every other problem."""
        self._follow_where = {
            i: f"{file}:{yaml_line(node, ('follows', i)) or 1}" for i in range(len(self.follows))
        }
        self._template_where = f"{file}:{yaml_line(node, ('template',)) or 1}"

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


def load_list_files(paths: list[Path]) -> list[tuple[Path, ListSpec]]:
    """Every list file under the given files or folders; InputError lists every problem."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
        elif path.exists():
            files.append(path)
        else:
            problems.append(Problem(str(path), "", "no such file or folder"))
    specs: list[tuple[Path, ListSpec]] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8-sig")
            node = yaml.compose(text, Loader=DataLoader)
            data = yaml.load(text, Loader=DataLoader)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(file), "", f"cannot read: {exc}"))
            continue
        except yaml.YAMLError as exc:
            problems.append(yaml_problem(exc, text, str(file)))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(f"{file}:1", "", "a list file must be a mapping of fields"))
            continue
        data.setdefault("slug", file.stem)
        try:
            spec = ListSpec.model_validate(data)
        except ValidationError as exc:
            found = []
            for error in exc.errors():
                loc = tuple(error["loc"])
                line = yaml_line(node, loc) or 1
                field = ".".join(str(p) for p in loc)
                found.append((line, Problem(f"{file}:{line}", field, friendly_reason(error))))
            # In the order of the file, not of the model's fields.
            problems += [p for _, p in sorted(found, key=lambda lp: lp[0])]
            continue
        spec.locate(file, node)
        specs.append((file, spec))
    slugs = [s.slug for _, s in specs]
    for file, spec in specs:
        if slugs.count(spec.slug) > 1:
            problems.append(
                Problem(str(file), "slug", f"another file also defines list {spec.slug!r}")
            )
    if problems:
        raise InputError(problems)
    return specs
