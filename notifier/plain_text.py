"""What characters text from outside may hold. PostgreSQL refuses NUL in text and cannot store
half a UTF-16 surrogate pair, and neither belongs in a name or a news item; other control
characters (escape, backspace, C1 codes from text decoded with the wrong charset) only hide
what a reader sees. So text may hold none of them but tab and line breaks, and a one-line
field (a name, an address, a slug) not even those."""

from __future__ import annotations

import re

#: Control characters no text may hold: C0 but tab, LF and CR; DEL; C1.
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
#: What a one-line field may not hold either: tab, line breaks, line and paragraph separators.
_LINE_BREAKS = r"\x09-\x0d\u2028\u2029"
#: Half a surrogate pair: JSON's \u escapes can carry one, UTF-8 (and so the store) cannot.
_SURROGATES = r"\ud800-\udfff"

#: The same rules as JSON Schema `pattern`s, for the API's schema. Escapes, not the characters
#: themselves; and no surrogates, which a schema's strings (Unicode scalar values) cannot hold.
TEXT_PATTERN = f"^[^{_CONTROLS}]*$"
LINE_PATTERN = f"^[^{_CONTROLS}{_LINE_BREAKS}]*$"

_TEXT_BAD = re.compile(f"[{_CONTROLS}{_SURROGATES}]")
_LINE_BAD = re.compile(f"[{_CONTROLS}{_LINE_BREAKS}{_SURROGATES}]")


def text_problem(value: str, *, one_line: bool = False) -> str | None:
    """Why `value` cannot be taken as text (naming the first bad character and where it is),
    or None if it can."""
    found = (_LINE_BAD if one_line else _TEXT_BAD).search(value)
    if found is None:
        return None
    char, at = found.group(), found.start() + 1
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        return f"is not valid Unicode: half a surrogate pair ({code}) at character {at}"
    if char in "\n\r\u2028\u2029":
        return f"must be one line: a line break ({code}) at character {at}"
    if char == "\x00":
        return f"must not contain a NUL character ({code}) at character {at}"
    if char == "\t":
        return f"must not contain a tab ({code}) at character {at}"
    return f"must not contain control characters: {code} at character {at}"


def without_bad_characters(value: str, *, one_line: bool = False) -> str:
    """`value` with the characters `text_problem` objects to taken out (to show a form again)."""
    return (_LINE_BAD if one_line else _TEXT_BAD).sub("", value)
