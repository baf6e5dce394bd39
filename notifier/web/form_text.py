"""What is typed into the public pages' forms obeys notifier.plain_text: every field there is
one line. A field that does not gets a message naming it, as the forms' other checks do."""

from __future__ import annotations

from collections.abc import Mapping

from notifier.plain_text import text_problem, without_bad_characters


def form_problems(fields: Mapping[str, str], labels: Mapping[str, str]) -> list[str]:
    """A message for each field that holds a character no one-line text may hold, named by its
    label (or its name, for a field with no label: one no person typed)."""
    return [
        f"{labels.get(name, name)}: {problem}."
        for name, value in fields.items()
        if (problem := text_problem(value, one_line=True))
    ]


def shown_again(fields: Mapping[str, str]) -> dict[str, str]:
    """The fields to put back into the form: what was typed, less what was refused."""
    return {name: without_bad_characters(value, one_line=True) for name, value in fields.items()}
