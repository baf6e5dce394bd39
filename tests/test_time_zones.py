"""Time zones people choose: places and UTC in menus; names that are no place's zone refused
wherever a zone is typed (CLI, CSV, list files, API and the preference page share one check;
the bot's /when reads the same names)."""

from __future__ import annotations

import pytest

from notifier.bot.when import parse_when
from notifier.domain.subscriber_specs import check_time_zone
from notifier.time_zones import known_zones, zone_menu

NO_PLACE = ["Factory", "localtime", "posixrules", "posix/Europe/Berlin", "right/UTC"]


@pytest.mark.parametrize("name", NO_PLACE)
def test_names_of_no_place_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=rf"unknown time zone '{name}'"):
        check_time_zone(name)
    assert name not in known_zones()
    assert parse_when(name)[1] == [name]  # the bot does not know it either


@pytest.mark.parametrize("name", ["Europe/Berlin", "UTC", "Etc/GMT-5", "US/Eastern", "EST5EDT"])
def test_places_and_old_aliases_are_accepted_when_typed(name: str) -> None:
    assert check_time_zone(f" {name} ") == name
    assert parse_when(name.lower())[0].zone == name


def test_the_menu_offers_places_and_utc() -> None:
    menu = zone_menu()
    assert "UTC" in menu
    assert "Asia/Almaty" in menu
    assert all("/" in z for z in menu if z != "UTC")
    assert not [z for z in menu if z.startswith(("Etc/", "US/", "posix/", "right/"))]
    assert set(menu) <= known_zones()
