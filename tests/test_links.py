"""Signed links: what one purpose signs no other accepts; altered or forged ones are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.config import Settings
from notifier.links import PREFERENCES, UNSUBSCRIBE, BadToken, Links, load_secret


def test_a_token_round_trips_and_serves_one_purpose_only() -> None:
    links = Links("https://n.example.org", "k" * 40)
    token = links.token(UNSUBSCRIBE, 42, 3)
    assert links.verify(UNSUBSCRIBE, token) == (42, 3)
    assert links.unsubscribe_url(42, 3) == f"https://n.example.org/unsubscribe/{token}"
    with pytest.raises(BadToken):
        links.verify(PREFERENCES, token)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("42.", "43.", 1),  # another subscriber
        lambda t: t.replace(".3.", ".4.", 1),  # another version
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # altered signature
        lambda t: "42.3.forged",
        lambda t: "",
        lambda t: "Zm9v",
        lambda t: "³" + t[2:],  # a digit int() refuses
    ],
)
def test_altered_or_forged_tokens_are_refused(mangle: object) -> None:
    links = Links("https://n.example.org", "k" * 40)
    token = links.token(UNSUBSCRIBE, 42, 3)
    with pytest.raises(BadToken, match=r"^invalid link$"):
        links.verify(UNSUBSCRIBE, mangle(token))  # type: ignore[operator]


def test_an_unsubscribe_link_may_name_the_list_and_old_links_still_work() -> None:
    links = Links("https://n.example.org", "k" * 40)
    old = links.token(UNSUBSCRIBE, 42, 3)  # what every link said before lists were named
    assert links.verify_unsubscribe(old) == (42, 3, None)
    assert links.unsubscribe_url(42, 3) == f"https://n.example.org/unsubscribe/{old}"
    token = links.unsubscribe_url(42, 3, list_id=7).rpartition("/")[2]
    assert token.startswith("42.3.7.")
    assert links.verify_unsubscribe(token) == (42, 3, 7)
    with pytest.raises(BadToken):
        links.verify(PREFERENCES, token)
    signature = token.rpartition(".")[2]
    for forged in (f"42.3.{signature}", f"42.3.8.{signature}", f"42.3.7.1.{signature}"):
        with pytest.raises(BadToken, match=r"^invalid link$"):
            links.verify_unsubscribe(forged)


def test_another_key_does_not_accept_our_tokens() -> None:
    token = Links("https://a", "k" * 40).token(UNSUBSCRIBE, 1, 1)
    with pytest.raises(BadToken):
        Links("https://a", "other-key").verify(UNSUBSCRIBE, token)


def test_the_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_secret(settings)
    assert len(first) >= 40
    assert load_secret(settings) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
