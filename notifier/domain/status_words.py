"""A case's status as readers read it ("on probation", "in exile"), not as the store spells it
("probation", "exiled"). One table for every face that shows a status to a reader (email text and
HTML, Telegram, the bot's case pages), so the words live in one place for translation."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from notifier.domain.vocabulary import CaseStatus

#: Each status as it reads after "Status:" or "Kazakhstan ·": lower case, a few words.
STATUS_WORDS: Final = MappingProxyType(
    {
        CaseStatus.DETAINED: "detained",
        CaseStatus.AWAITING_TRIAL: "awaiting trial",
        CaseStatus.HOUSE_ARREST: "under house arrest",
        CaseStatus.PSYCHIATRIC_DETENTION: "held in psychiatric detention",
        CaseStatus.ON_TRIAL: "on trial",
        CaseStatus.SENTENCED: "sentenced",
        CaseStatus.IMPRISONED: "in prison",
        CaseStatus.PROBATION: "on probation",
        CaseStatus.FINED: "fined",
        CaseStatus.RELEASED: "released",
        CaseStatus.EXILED: "in exile",
        CaseStatus.THREATENED_WITH_EXTRADITION: "threatened with extradition",
        CaseStatus.HARASSED: "harassed",
        CaseStatus.MISSING: "missing",
        CaseStatus.DECEASED: "deceased",
    }
)


def status_words(status: CaseStatus) -> str:
    """The reader's words for a status; a status added to the enum and not here still reads as
    words (its value with spaces), never as an identifier."""
    return STATUS_WORDS.get(status) or status.value.replace("_", " ")
