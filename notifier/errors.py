"""One rooted error tree: everything notifier raises on purpose is a NotifierError."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class NotifierError(Exception):
    """The root of every error notifier raises on purpose."""


class ConfigError(NotifierError, ValueError):
    """A setting has a bad value; the message names the key and where it came from."""


class NotFoundError(NotifierError, LookupError):
    """A case, subscriber, list or country that does not exist."""


class ForbiddenError(NotifierError):
    """The actor's role (or, for a coordinator, their lists) does not allow this."""


class StoreNotFound(NotifierError, LookupError):
    """No store where the settings point. notifier never makes one by itself (`notifier init`
    does), so a command run from the wrong folder cannot quietly start an empty store there."""

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason
        super().__init__(f"no notifier store at {location} ({reason})")


class StoreUnavailable(NotifierError, ConnectionError):
    """The store's database server cannot be reached (down, wrong host or port, refused)."""


@dataclass(frozen=True)
class Problem:
    """One bad piece of input: where it is (file, row or line), which field, and why."""

    where: str
    field: str
    reason: str

    def __str__(self) -> str:
        field = f" [{self.field}]" if self.field else ""
        return f"{self.where}{field}: {self.reason}"


class InputError(NotifierError, ValueError):
    """Input that cannot be used as given; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, where: str, field: str, reason: str) -> InputError:
        return cls([Problem(where, field, reason)])


class ConflictError(InputError):
    """Input that is well formed but clashes with what the store holds now (a withdrawn update
    corrected, an address reactivated that did not bounce): the same request may work later."""
