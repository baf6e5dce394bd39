"""What characters text from outside may hold: the rule, its messages, and its patterns (the
OpenAPI schema's) agreeing with it."""

from __future__ import annotations

import re

import pytest

from notifier.plain_text import (
    LINE_PATTERN,
    TEXT_PATTERN,
    text_problem,
    without_bad_characters,
)


@pytest.mark.parametrize(
    ("value", "as_text", "as_line"),
    [
        ("Анна Иванова — «да»", None, None),
        ("a\x00b", "must not contain a NUL character (U+0000) at character 2", "same"),
        ("ab\x1b[31m", "must not contain control characters: U+001B at character 3", "same"),
        ("a\x7f", "must not contain control characters: U+007F at character 2", "same"),
        ("caf\x82", "must not contain control characters: U+0082 at character 4", "same"),
        ("a\ud800", "is not valid Unicode: half a surrogate pair (U+D800) at character 2", "same"),
        ("one\r\ntwo", None, "must be one line: a line break (U+000D) at character 4"),
        ("one\u2028two", None, "must be one line: a line break (U+2028) at character 4"),
        ("one\ttwo", None, "must not contain a tab (U+0009) at character 4"),
        ("a\x0cb", "must not contain control characters: U+000C at character 2", "same"),
    ],
)
def test_text_and_one_line(value: str, as_text: str | None, as_line: str | None) -> None:
    assert text_problem(value) == as_text
    assert text_problem(value, one_line=True) == (as_text if as_line == "same" else as_line)


@pytest.mark.parametrize("value", ["plain", "a\x00b", "x\r\ny", "t\tab", "\x85", "\u2029", "é"])
def test_the_patterns_say_the_same_as_the_rule(value: str) -> None:
    assert bool(re.fullmatch(TEXT_PATTERN, value)) is (text_problem(value) is None)
    assert bool(re.fullmatch(LINE_PATTERN, value)) is (text_problem(value, one_line=True) is None)


def test_a_form_is_shown_again_without_what_was_refused() -> None:
    assert without_bad_characters("An\x00na\r\n", one_line=True) == "Anna"
    assert without_bad_characters("An\x00na\r\n") == "Anna\r\n"
