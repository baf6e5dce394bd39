"""The languages notifier speaks to its readers, and the one it speaks now.

Every text a reader sees is written in English in the code and the templates and looked up
in a gettext catalog: `notifier/locales/<locale>/LC_MESSAGES/messages.po`, read with Babel
when first needed (no compile step: a fresh clone and an installed wheel alike need none).
English is the source and needs no catalog. Adding a language is adding one `.po` file and
its code to SHIPPED (docs/translating.md says how).

Which language is spoken is set for a stretch of work with `speaking(locale)` (a context
variable, so concurrent requests and tasks each keep their own), and every lookup in it —
`_()` and `ngettext()` here, `{% trans %}` and `_()` in templates — answers in that language."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from functools import cache, lru_cache
from gettext import NullTranslations
from importlib import resources
from importlib.resources.abc import Traversable

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

#: The languages with a complete catalog, English (the source) first.
SHIPPED = ("en", "de", "ru")
DEFAULT = "en"
#: The catalogs' gettext domain.
DOMAIN = "messages"


def catalog_path(locale: str) -> Traversable:
    """Where a language's catalog is kept in the package."""
    return resources.files(__name__).joinpath(locale, "LC_MESSAGES", f"{DOMAIN}.po")


@cache
def translations(locale: str) -> NullTranslations:
    """The catalog of a shipped language, read once a process; English and any language
    without a catalog speak the source texts."""
    if locale == DEFAULT or locale not in SHIPPED:
        return NullTranslations()
    with catalog_path(locale).open("rb") as source:
        catalog = read_po(source, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def language_tag(value: str) -> str:
    """`value` if it names a language, as a tag such as 'de', 'ru' or 'pt-BR' ('pt_BR' too);
    ValueError, naming it, if it does not (a language notifier has no catalog for is still
    one: its readers get English until one is added)."""
    tag = value.strip()
    try:
        Locale.parse(tag.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        raise ValueError(
            f"{tag[:40]!r} is not a language: give a tag such as de, ru or pt-BR"
        ) from None
    return tag


def canonical_tag(tag: str) -> str:
    """A language tag (one `language_tag` took) as tags are written: 'pt_br' -> 'pt-BR',
    'DE' -> 'de'."""
    parsed = Locale.parse(tag.replace("-", "_"))
    return "-".join(p for p in (parsed.language, parsed.script, parsed.territory) if p)


def primary_language(tag: str) -> str:
    """The language of a tag, without script or region: 'de-AT' -> 'de'."""
    return tag.replace("_", "-").split("-")[0].lower()


def language_name(tag: str) -> str:
    """A language's name in the language spoken now ('German', 'Deutsch'); the tag itself for
    one Babel does not know."""
    try:
        name = Locale.parse(tag.replace("-", "_")).get_display_name(_cldr(_speaking.get()))
    except (ValueError, TypeError, UnknownLocaleError):
        return tag
    return name or tag


@lru_cache(maxsize=256)  # asked once per reader by the digest planners: a few distinct tags
def shipped(locale: str | None) -> str:
    """The shipped language nearest to `locale` ('de-AT', 'de_DE' -> 'de'), else English."""
    if not locale:
        return DEFAULT
    try:
        parsed = Locale.parse(locale.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return DEFAULT
    return parsed.language if parsed.language in SHIPPED else DEFAULT


def from_accept_language(header: str | None) -> str | None:
    """The first shipped language a browser's Accept-Language asks for, by its weights; None
    when it asks for none of them."""
    if not header:
        return None
    wanted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and weight > 0:
            wanted.append((-weight, index, tag.strip()))
    for _, _, tag in sorted(wanted):
        language = tag.split("-")[0].lower()
        if language in SHIPPED:
            return language
    return None


_speaking: ContextVar[str] = ContextVar("notifier_locale", default=DEFAULT)


@contextmanager
def speaking(locale: str | None) -> Iterator[str]:
    """Speak `locale` (as `shipped` reads it) inside the block; yields the language used."""
    language = shipped(locale)
    token = _speaking.set(language)
    try:
        yield language
    finally:
        _speaking.reset(token)


def current() -> str:
    """The language spoken now."""
    return _speaking.get()


@cache
def _cldr(language: str) -> Locale:
    """Babel's data for a language (parsed once: a render asks for it per country shown)."""
    return Locale.parse(language)


def direction() -> str:
    """The direction the language spoken now is written in: 'ltr' or 'rtl' (HTML's dir)."""
    return "rtl" if _cldr(_speaking.get()).text_direction == "rtl" else "ltr"


def day_label(day: date) -> str:
    """A day as readers write it: '2 December 2026', '2. Dezember 2026', '2 декабря 2026 г.'."""
    language = _speaking.get()
    if language == DEFAULT:
        return f"{day:%d %B %Y}".lstrip("0")
    return format_date(day, format="long", locale=language)


def full_day_label(day: date) -> str:
    """A day with its weekday: 'Saturday 5 December 2026', 'Samstag, 5. Dezember 2026',
    'суббота, 5 декабря 2026 г.'."""
    language = _speaking.get()
    if language == DEFAULT:
        return f"{day:%A} {day.day} {day:%B %Y}"
    return format_date(day, format="full", locale=language)


def own_name(language: str) -> str:
    """A shipped language's name in itself, as a menu of languages shows it: 'English',
    'Deutsch', 'Русский'."""
    name = _cldr(shipped(language)).get_display_name(shipped(language)) or language
    return name[:1].upper() + name[1:]


def period_label(start: date, end: date) -> str:
    """A digest's period in a language other than English: '1.–7. Dez. 2026' (CLDR's interval
    forms)."""
    return format_interval(start, end, "yMMMMd", locale=_speaking.get())


def territory(code: str) -> str | None:
    """A country's name (ISO code) in the language spoken now, as Babel (CLDR) has it; None in
    English (notifier's own English names stand) or for a code CLDR does not know."""
    language = _speaking.get()
    if language == DEFAULT:
        return None
    found: str | None = _cldr(language).territories.get(code.upper())
    return found


def weekday_names(language: str | None = None) -> tuple[str, ...]:
    """The days of the week, Monday first, as CLDR writes them in `language` (a shipped one;
    default: the language spoken now): 'Monday', 'Montag', 'понедельник'."""
    days = _cldr(shipped(language) if language else _speaking.get()).days["format"]["wide"]
    return tuple(str(days[index]) for index in range(7))


def weekday_abbreviations(language: str) -> tuple[str, ...]:
    """The short names of the days, Monday first, without a trailing dot: 'Mon', 'Mo', 'пн'."""
    days = _cldr(shipped(language)).days["format"]["abbreviated"]
    return tuple(str(days[index]).rstrip(".") for index in range(7))


def territories(language: str) -> dict[str, str]:
    """CLDR's names of countries and regions in a shipped language, by code."""
    return dict(_cldr(shipped(language)).territories)


def N_(message: str) -> str:
    """Marks a text for translation where it is defined (a table of words); it is translated
    where it is shown, with `_`."""
    return message


def _(message: str) -> str:
    """`message` in the language spoken now."""
    return translations(_speaking.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for the number `n` in the language spoken now (Russian has three)."""
    return translations(_speaking.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` as meant in `context`, in the language spoken now."""
    return translations(_speaking.get()).pgettext(context, message)
