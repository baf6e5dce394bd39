"""What characters text from outside may hold. PostgreSQL refuses NUL in text and cannot store
half a UTF-16 surrogate pair, and neither belongs in a name or a news item; other control
characters (escape, backspace, C1 codes from text decoded with the wrong charset) only hide
what a reader sees. So text may hold none of them but tab and line breaks, and a one-line
field (a name, an address, a slug) not even those."""

from __future__ import annotations

import re

#: Characters no text may hold: C0 controls but tab, LF and CR; DEL; C1 controls; surrogates.
_NEVER = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
#: Characters a one-line field may not hold: those, and tab, line breaks, line separators.
_NOT_ON_ONE_LINE = r"\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029"

#: The same rules as JSON Schema `pattern`s, for the API's schema. Escapes, not the characters
#: themselves: a lone surrogate cannot be written in UTF-8 JSON.
TEXT_PATTERN = f"^[^{_NEVER}]*$"
LINE_PATTERN = f"^[^{_NOT_ON_ONE_LINE}]*$"

_TEXT_BAD = re.compile(f"[{_NEVER}]")
_LINE_BAD = re.compile(f"[{_NOT_ON_ONE_LINE}]")


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
    return f"must not contain control characters: {code} at character {at}"


def without_bad_characters(value: str, *, one_line: bool = False) -> str:
    """`value` with the characters `text_problem` objects to taken out (to show a form again)."""
    return (_LINE_BAD if one_line else _TEXT_BAD).sub("", value)
