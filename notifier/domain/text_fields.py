"""The rules every text field follows wherever it comes from (CLI, admin API, case files, list
files, CSV): a length limit (`notifier.limits`); one line, or paragraphs, and no control
characters (a NUL is refused by PostgreSQL, a line break in a title breaks a subject header);
links that are absolute http(s) URLs valid under RFC 3986 (a `<` or a quote in a link would
otherwise reach an HTML `href` and the `<…>` of plain text)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, HttpUrl, TypeAdapter, ValidationError

from notifier import limits
from notifier.locales import language_tag

#: Not in one-line text: every control character (C0, DEL, C1: line breaks and tabs too) and
#: Unicode's line and paragraph separators.
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: Not in paragraphs: control characters other than tab and line breaks.
_NOT_IN_PARAGRAPHS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BREAKS = "\r\n\u2028\u2029"
_CALLED = {"\x00": "NUL", "\t": "tab", "\n": "LF", "\r": "CR", "\x1b": "ESC", "\x7f": "DEL"}


def describe_character(char: str) -> str:
    """'NUL (U+0000)', 'U+0007': how a message names a character nobody can see."""
    code = f"U+{ord(char):04X}"
    return f"{_CALLED[char]} ({code})" if char in _CALLED else code


def place_in(value: str, index: int) -> str:
    """Where `index` is, as a person finds it: 'character 12', or 'line 3, column 5'."""
    line = value.count("\n", 0, index) + 1
    if line == 1:
        return f"character {index + 1}"
    return f"line {line}, column {index - value.rfind(chr(10), 0, index)}"


def too_long(length: int, limit: int) -> str:
    return f"{length:,} characters; at most {limit:,}"


def one_line(value: str) -> str:
    """`value` if it is one line with no control character; ValueError naming the first."""
    found = _NOT_ONE_LINE.search(value)
    if found is None:
        return value
    at = place_in(value, found.start())
    if found.group() in _BREAKS:
        raise ValueError(f"must be one line: a line break at {at}")
    raise ValueError(f"has a control character, {describe_character(found.group())}, at {at}")


def paragraphs(value: str) -> str:
    """`value` if it has no control character but tabs and line breaks; ValueError naming the
    first."""
    found = _NOT_IN_PARAGRAPHS.search(value)
    if found is None:
        return value
    at = place_in(value, found.start())
    raise ValueError(f"has a control character, {describe_character(found.group())}, at {at}")


def check_text(value: str, *, limit: int, single_line: bool = True) -> str:
    """For what is not a pydantic model (CSV cells, CLI options and files): the length and
    characters of `value`; ValueError saying what is wrong."""
    if len(value) > limit:
        raise ValueError(too_long(len(value), limit))
    return one_line(value) if single_line else paragraphs(value)


_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)
#: Never in a link as typed: white space, control characters, and the ASCII characters RFC 3986
#: does not allow anywhere (`<`, `>` and `"` end an HTML attribute or a plain-text `<…>`).
_NEVER_IN_LINKS = re.compile(r'[\s\x00-\x1f\x7f-\x9f<>"\\^`{|}]')
#: Everything RFC 3986 allows in a URI: unreserved and reserved characters, and % escapes.
_NOT_URI = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def check_link(value: str) -> str:
    """The link as stored and sent: an absolute http(s) URL, valid under RFC 3986. A host in
    Unicode becomes its IDNA form and other non-ASCII letters are percent-encoded, as a
    browser does (pydantic's URL parser); anything else RFC 3986 does not allow is refused,
    not quietly rewritten. ValueError says what is wrong and where."""
    value = value.strip()
    if len(value) > limits.URL:
        raise ValueError(too_long(len(value), limits.URL))
    if not value.lower().startswith(("http://", "https://")):
        raise ValueError(f"{value[:80]!r} is not an http(s) link (https://…)")
    found = _NEVER_IN_LINKS.search(value)
    if found is not None:
        char = found.group()
        at = place_in(value, found.start())
        if char.isspace() and char not in "\t\n\r":
            raise ValueError(f"has a space at {at}: write it as %20")
        if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
            raise ValueError(f"has a control character, {describe_character(char)}, at {at}")
        raise ValueError(
            f"has {char!r} at {at}, which a link may not hold: write it as %{ord(char):02X}"
        )
    try:
        url = _HTTP_URL.validate_python(value)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"].removeprefix("Input should be a valid URL, ")
        raise ValueError(f"is not a valid link: {why}") from None
    if url.username or url.password:
        raise ValueError("must not hold a user name or password (the part before @)")
    text = str(url)
    # Brackets belong around an IPv6 host only; '#' starts the fragment and is not in it.
    after_host = f"{url.path or ''}?{url.query or ''}"
    found = (
        _NOT_URI.search(text)
        or re.search(r"[\[\]]", after_host)
        or re.search(r"[\[\]#]", url.fragment or "")
    )
    if found is not None:
        char = found.group()
        raise ValueError(f"has {char!r}, which a link may not hold: write it as %{ord(char):02X}")
    if (escape := _BAD_ESCAPE.search(text)) is not None:
        raise ValueError(
            f"has {text[escape.start() : escape.start() + 3]!r}, which is not a % escape "
            "(% and two hex digits): write % itself as %25"
        )
    return text


def friendly_reason(error: Any) -> str:
    """A pydantic error (an `ErrorDetails`) worded like every other problem notifier names."""
    kind, context, given = error["type"], error.get("ctx") or {}, error.get("input")
    if kind in ("string_too_short", "too_short") and context.get("min_length") == 1:
        return "must not be empty"
    if kind in ("string_too_long", "too_long") and isinstance(given, str):
        return too_long(len(given), context["max_length"])
    if kind == "too_long":
        return f"{context['actual_length']:,} items; at most {context['max_length']:,}"
    return str(error["msg"]).removeprefix("Value error, ")


# The fields as pydantic types: the limit first (checked before the characters, and in the
# schema the API documents), then the rule.
Name = Annotated[str, Field(max_length=limits.NAME), AfterValidator(one_line)]
Slug = Annotated[str, Field(max_length=limits.SLUG), AfterValidator(one_line)]
Role = Annotated[str, Field(max_length=limits.ROLE), AfterValidator(one_line)]
Country = Annotated[str, Field(max_length=limits.COUNTRY), AfterValidator(one_line)]
Title = Annotated[str, Field(min_length=1, max_length=limits.TITLE), AfterValidator(one_line)]
UpdateKey = Annotated[str, Field(max_length=limits.UPDATE_KEY), AfterValidator(one_line)]
SourceName = Annotated[str, Field(max_length=limits.SOURCE), AfterValidator(one_line)]
Locale = Annotated[
    str, Field(max_length=limits.LOCALE), AfterValidator(one_line), AfterValidator(language_tag)
]
Body = Annotated[str, Field(max_length=limits.BODY), AfterValidator(paragraphs)]
Summary = Annotated[str, Field(max_length=limits.SUMMARY), AfterValidator(paragraphs)]
Prayer = Annotated[str, Field(max_length=limits.PRAYER), AfterValidator(paragraphs)]
ActionText = Annotated[str, Field(max_length=limits.ACTION), AfterValidator(paragraphs)]
Address = Annotated[str, Field(max_length=limits.ADDRESS), AfterValidator(paragraphs)]
Guidance = Annotated[str, Field(max_length=limits.GUIDANCE), AfterValidator(paragraphs)]
Description = Annotated[str, Field(max_length=limits.DESCRIPTION), AfterValidator(paragraphs)]
Link = Annotated[str, Field(max_length=limits.URL), AfterValidator(check_link)]
