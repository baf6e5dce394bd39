"""A case's status as readers read it ("on probation", "in exile"), not as the store spells it
("probation", "exiled"). One table for every face that shows a status to a reader (email text and
HTML, Telegram, the bot's case pages), so the words live in one place for translation."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from notifier.domain.vocabulary import CaseStatus
from notifier.locales import N_

#: Each status as it reads after "Status:" or "Kazakhstan ·": lower case, a few words.
STATUS_WORDS: Final = MappingProxyType(
    {
        CaseStatus.DETAINED: N_("detained"),
        CaseStatus.AWAITING_TRIAL: N_("awaiting trial"),
        CaseStatus.HOUSE_ARREST: N_("under house arrest"),
        CaseStatus.PSYCHIATRIC_DETENTION: N_("held in psychiatric detention"),
        CaseStatus.ON_TRIAL: N_("on trial"),
        CaseStatus.SENTENCED: N_("sentenced"),
        CaseStatus.IMPRISONED: N_("in prison"),
        CaseStatus.PROBATION: N_("on probation"),
        CaseStatus.FINED: N_("fined"),
        CaseStatus.RELEASED: N_("released"),
        CaseStatus.EXILED: N_("in exile"),
        CaseStatus.THREATENED_WITH_EXTRADITION: N_("threatened with extradition"),
        CaseStatus.HARASSED: N_("harassed"),
        CaseStatus.MISSING: N_("missing"),
        CaseStatus.DECEASED: N_("deceased"),
    }
)


def status_words(status: CaseStatus) -> str:
    """The reader's words for a status, in English (templates show them in the reader's
    language); a status added to the enum and not here still reads as words (its value with
    spaces), never as an identifier."""
    return STATUS_WORDS.get(status) or status.value.replace("_", " ")
