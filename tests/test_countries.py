from __future__ import annotations

import pytest

from notifier.countries import fold, resolve_country
from notifier.errors import NotFoundError


@pytest.mark.parametrize("text", ["KZ", "kz", "KAZ", "Kazakhstan", "kazakhstan", " KAZAKHSTAN "])
def test_country_by_code_or_name_in_any_case(text: str) -> None:
    assert resolve_country(text) == "KZ"


def test_common_and_official_names() -> None:
    assert resolve_country("Iran") == "IR"
    assert resolve_country("Russian Federation") == "RU"
    assert resolve_country("Republic of Uzbekistan") == "UZ"


def test_unknown_country_suggests_the_nearest() -> None:
    with pytest.raises(
        NotFoundError, match=r"unknown country 'Kazakstan'; did you mean Kazakhstan"
    ):
        resolve_country("Kazakstan")


def test_fold_ignores_case_accents_and_punctuation() -> None:
    assert fold("  Kashkumbáev, ") == "kashkumbaev"
    assert fold("Бахытжан") == "бахытжан"
