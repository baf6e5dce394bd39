"""Countries by ISO 3166 code or by name, in any case, with suggestions for a near miss."""

from __future__ import annotations

import difflib
import unicodedata
from functools import cache, lru_cache

import pycountry

from notifier import locales
from notifier.errors import NotFoundError


def fold(text: str) -> str:
    """Lower case without accents or punctuation: 'Kashkumbáev ' -> 'kashkumbaev'."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in kept.casefold()).split())


def _names_in_every_language() -> dict[str, str]:
    """Folded CLDR names of countries in each shipped language ('kasachstan', 'казахстан')
    -> alpha-2 code: readers name a country in their own language."""
    names: dict[str, str] = {}
    for language in locales.SHIPPED:
        for code, name in locales.territories(language).items():
            if len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None:
                names.setdefault(fold(name), code)
    return names


@cache
def _names() -> dict[str, str]:
    """Every folded code and name of every country (English, and each shipped language's) ->
    its alpha-2 code."""
    names: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                names.setdefault(fold(value), code)
    for name, code in _names_in_every_language().items():
        names.setdefault(name, code)
    return names


@lru_cache(maxsize=512)  # asked for once per message composed, of a few codes
def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def country_label(code: str) -> str:
    """A country's name for readers, in the language spoken now (CLDR's names; in English,
    `country_name`'s)."""
    return locales.territory(code) or country_name(code)


@cache
def _full_names() -> dict[str, str]:
    """Folded names (not codes: 'kz' is no near miss for anything) -> alpha-2 code."""
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                names.setdefault(fold(value), country.alpha_2)
    for name, code in _names_in_every_language().items():
        names.setdefault(name, code)
    return names


def near_countries(text: str, *, limit: int = 3) -> list[str]:
    """Alpha-2 codes of countries whose names are close to `text` ('Kazakstan' → KZ): the "did
    you mean" of the CLI, the bot and the web forms alike."""
    near = difflib.get_close_matches(fold(text), list(_full_names()), n=limit * 2, cutoff=0.6)
    return list(dict.fromkeys(_full_names()[n] for n in near))[:limit]


def resolve_country(text: str) -> str:
    """The alpha-2 code for 'KZ', 'kaz', 'Kazakhstan'...; NotFoundError with suggestions else."""
    code = _names().get(fold(text))
    if code is not None:
        return code
    hint = ", ".join(country_name(c) for c in near_countries(text))
    suffix = f"; did you mean {hint}?" if hint else ""
    raise NotFoundError(f"unknown country {text!r}{suffix}")
