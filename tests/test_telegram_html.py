from __future__ import annotations

import random
import re

import pytest

from notifier.render.telegram_html import (
    ALLOWED_TAGS,
    TELEGRAM_LIMIT,
    check_telegram_html,
    escape,
    escape_attr,
    split_telegram_html,
)
from tests.helpers import html_text


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_good_split(message: str, chunks: list[str], limit: int) -> None:
    assert chunks
    for chunk in chunks:
        assert len(chunk) <= limit, chunk
        assert check_telegram_html(chunk, limit=limit) == [], chunk
        assert chunk == chunk.strip()
    assert squeeze("".join(html_text(c)[0] for c in chunks)) == squeeze(html_text(message)[0])


# --- checker -------------------------------------------------------------------------------------

VALID = [
    "plain text",
    "<b>bold</b> <strong>strong</strong> <i>it</i> <em>em</em> <u>u</u> <ins>ins</ins>",
    "<s>s</s> <strike>strike</strike> <del>del</del> <code>x = 1</code> <pre>block</pre>",
    '<a href="https://example.org/?a=1&amp;b=2">link</a>',
    "<blockquote>quote</blockquote> <blockquote expandable>more</blockquote>",
    '<tg-spoiler>hidden</tg-spoiler> <span class="tg-spoiler">hidden</span>',
    '<pre><code class="language-python">print("hi")</code></pre>',
    "<b>bold <i>italic <u>under</u></i></b>",
    "&lt;tag&gt; &amp; &quot;q&quot; &#39; &#x1F600;",
    "<B>upper case tags</B>",
    "Привет, мир! 👋🏽",
]


@pytest.mark.parametrize("message", VALID)
def test_valid_messages(message: str) -> None:
    assert check_telegram_html(message) == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("<div>x</div>", r"tag <div> at position 0 is not allowed"),
        ('<a onclick="go()" href="x">y</a>', r"<a> at position 0 has the attribute 'onclick'"),
        ("<a>no href</a>", r"<a> at position 0 needs an href"),
        ("<span>x</span>", r'<span> at position 0 needs class="tg-spoiler"'),
        ('<span class="big">x</span>', r'<span> at position 0 must have class="tg-spoiler"'),
        ('<b class="x">x</b>', r"<b> at position 0 has the attribute 'class'"),
        ("ok <b>unclosed", r"<b> at position 3 is never closed"),
        ("<b><i>x</b></i>", r"Misnested tags: </b> at position 7 .* <i> \(position 3\)"),
        ("x</b>", r"</b> at position 1 has no opening tag"),
        ("a < b", r"Bare '<' at position 2"),
        ("a > b", r"Bare '>' at position 2"),
        ("Tom & Jerry", r"Bare '&' at position 4"),
        ("a&nbsp;b", r"entity &nbsp; at position 1 is not supported"),
        ("a &amp b", r"entity &amp at position 2 lacks its ';'"),
        ("bad &#xD800; ref", r"&#xD800; at position 4 is out of range"),
        ("line<br/>break", r"self-closing tag <br/> at position 4"),
        ("<!-- note -->text", r"HTML comment at position 0"),
        ("", r"no text"),
        ("<b> </b>", r"no text"),
        ("x" * (TELEGRAM_LIMIT + 1), r"4097 characters long, over the limit of 4096"),
    ],
)
def test_invalid_messages(message: str, expected: str) -> None:
    problems = check_telegram_html(message)
    assert any(re.search(expected, p) for p in problems), problems


def test_every_allowed_tag_passes_in_its_simplest_form() -> None:
    attrs = {"a": ' href="https://t.me/x"', "span": ' class="tg-spoiler"'}
    for tag in ALLOWED_TAGS:
        message = f"<{tag}{attrs.get(tag, '')}>x</{tag}>"
        assert check_telegram_html(message) == [], message


def test_limit_is_configurable() -> None:
    assert check_telegram_html("x" * 50, limit=50) == []
    assert check_telegram_html("x" * 51, limit=50) != []


def test_escape_helpers() -> None:
    assert escape('a < b & "c" > d') == 'a &lt; b &amp; "c" &gt; d'
    assert escape_attr('x"y&z') == "x&quot;y&amp;z"
    url = 'https://x.org/?a=1&b="2"'
    message = f'<a href="{escape_attr(url)}">{escape("<a & b>")}</a>'
    assert check_telegram_html(message) == []


# --- splitting -----------------------------------------------------------------------------------


def test_short_message_is_returned_unchanged() -> None:
    message = "\n<b>Alert</b>\n\nSomething happened.  \n"
    assert split_telegram_html(message) == [message]
    assert split_telegram_html("") == []
    assert split_telegram_html(" \n ") == []


def test_paragraphs_split_at_paragraph_boundaries() -> None:
    paragraphs = [f"<b>Case {n}.</b> Line one of {n}.\nLine two of {n}." for n in range(40)]
    message = "\n\n".join(paragraphs)
    chunks = split_telegram_html(message, 200)
    assert len(chunks) > 1
    assert_good_split(message, chunks, 200)
    # Every chunk is whole paragraphs, in order.
    assert [p for chunk in chunks for p in chunk.split("\n\n")] == paragraphs


def test_paragraphs_at_the_default_limit() -> None:
    paragraphs = [f"Paragraph {n}: " + "lorem ipsum dolor sit amet " * 8 for n in range(60)]
    message = "\n\n".join(p.strip() for p in paragraphs)
    chunks = split_telegram_html(message)
    assert len(chunks) > 1
    assert_good_split(message, chunks, TELEGRAM_LIMIT)
    assert all(chunk.startswith("Paragraph ") for chunk in chunks)


def test_line_breaks_are_preferred_to_spaces() -> None:
    message = "\n".join(f"line {n} with some words" for n in range(20))
    chunks = split_telegram_html(message, 100)
    assert_good_split(message, chunks, 100)
    assert all(re.fullmatch(r"(line \d+ with some words\n?)+", chunk) for chunk in chunks)


def test_long_paragraph_splits_at_spaces() -> None:
    words = [f"word{n}" for n in range(100)]
    message = " ".join(words)
    chunks = split_telegram_html(message, 60)
    assert_good_split(message, chunks, 60)
    assert [w for chunk in chunks for w in chunk.split(" ")] == words


def test_a_word_longer_than_the_limit_is_cut() -> None:
    message = "short " + "x" * 130 + " end"
    chunks = split_telegram_html(message, 50)
    assert_good_split(message, chunks, 50)
    assert chunks[0] == "short"


def test_never_cuts_inside_an_entity() -> None:
    message = "&amp;&lt;&#x1F600;" * 20
    chunks = split_telegram_html(message, 32)
    assert_good_split(message, chunks, 32)


def test_long_blockquote_is_closed_and_reopened() -> None:
    quote = " ".join(f"quoted{n}" for n in range(60))
    message = f"Intro.\n\n<blockquote expandable>{quote}</blockquote>\n\nOutro."
    chunks = split_telegram_html(message, 120)
    assert_good_split(message, chunks, 120)
    inner = [c for c in chunks if "quoted" in c]
    assert len(inner) > 2
    for chunk in inner:
        assert chunk.startswith("<blockquote expandable>")
        assert "</blockquote>" in chunk
    assert chunks[0] == "Intro."
    assert chunks[-1].endswith("</blockquote>\n\nOutro.")


def test_nested_tags_are_reopened_in_order_with_attributes() -> None:
    message = '<b>Bold <a href="https://t.me/c?x=1&amp;y=2">' + "link text " * 30 + "</a></b> tail"
    chunks = split_telegram_html(message, 90)
    assert_good_split(message, chunks, 90)
    for chunk in chunks[1:-1]:
        assert chunk.startswith('<b><a href="https://t.me/c?x=1&amp;y=2">')
        assert chunk.endswith("</a></b>")


def test_long_link_text() -> None:
    message = '<a href="https://example.org/case/42">' + "Read the full story " * 20 + "</a>"
    chunks = split_telegram_html(message, 100)
    assert_good_split(message, chunks, 100)
    assert all(c.startswith('<a href="https://example.org/case/42">') for c in chunks)


def test_preformatted_code_block() -> None:
    code = "\n".join(f"    step_{n}()" for n in range(30))
    message = f'<pre><code class="language-python">def run():\n{code}</code></pre>'
    chunks = split_telegram_html(message, 150)
    assert_good_split(message, chunks, 150)
    assert all(c.startswith('<pre><code class="language-python">') for c in chunks)


def test_cyrillic_and_emoji() -> None:
    message = "\n\n".join(
        f"<b>Дело №{n}</b> 🙏 Верующий задержан в городе Алматы 👨‍👩‍👧 🇰🇿" for n in range(30)
    )
    chunks = split_telegram_html(message, 150)
    assert_good_split(message, chunks, 150)


def test_emoji_clusters_are_not_cut_when_avoidable() -> None:
    message = "👍🏽" * 40
    chunks = split_telegram_html(message, 25)
    assert_good_split(message, chunks, 25)
    assert all(len(c) % 2 == 0 for c in chunks)


def test_invalid_or_impossible_input_is_refused() -> None:
    with pytest.raises(ValueError, match="not valid Telegram HTML"):
        split_telegram_html("<div>" + "x " * 100 + "</div>", 50)
    url = "https://example.org/a/very/long/url"
    with pytest.raises(ValueError, match="cannot split"):
        split_telegram_html(f'<a href="{url}">' + "y " * 40 + "</a>", 40)
    with pytest.raises(ValueError, match="limit must be positive"):
        split_telegram_html("x", 0)


# --- property test over generated messages -------------------------------------------------------

INLINE = [
    ("<b>", "</b>"),
    ("<strong>", "</strong>"),
    ("<i>", "</i>"),
    ("<em>", "</em>"),
    ("<u>", "</u>"),
    ("<s>", "</s>"),
    ("<del>", "</del>"),
    ("<code>", "</code>"),
    ("<tg-spoiler>", "</tg-spoiler>"),
    ('<span class="tg-spoiler">', "</span>"),
    ('<a href="https://t.me/x?a=1&amp;b=2">', "</a>"),
]
BLOCK = [
    ("<blockquote>", "</blockquote>"),
    ("<blockquote expandable>", "</blockquote>"),
    ("<pre>", "</pre>"),
]
WORDS = [
    "alert",
    "case",
    "court",
    "Привет",
    "задержан",
    "🙏",
    "👍🏽",
    "&amp;",
    "&lt;x&gt;",
    "&#x1F600;",
    "&quot;q&quot;",
    "a" * 70,
    "naïve",
]


def _inline(rng: random.Random, budget: int, depth: int) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(1, 12)):
        tag = rng.choice(INLINE)
        cost = len(tag[0]) + len(tag[1])
        if depth < 3 and cost <= budget and rng.random() < 0.25:
            parts.append(tag[0] + _inline(rng, budget - cost, depth + 1) + tag[1])
        else:
            parts.append(rng.choice(WORDS))
    return rng.choice([" ", " ", "\n"]).join(parts)


def generate_message(seed: int, limit: int) -> str:
    rng = random.Random(seed)
    budget = limit // 2  # room for the tags open at any cut
    paragraphs: list[str] = []
    size = rng.randint(limit, 4 * limit)
    while sum(map(len, paragraphs)) < size:
        block = rng.choice(BLOCK)
        cost = len(block[0]) + len(block[1])
        if cost <= budget and rng.random() < 0.2:
            paragraphs.append(block[0] + _inline(rng, budget - cost, 1) + block[1])
        else:
            paragraphs.append(_inline(rng, budget, 0))
    return rng.choice(["\n\n", "\n\n\n", "\n \n"]).join(paragraphs)


@pytest.mark.parametrize("limit", [50, 200, TELEGRAM_LIMIT])
@pytest.mark.parametrize("seed", range(12))
def test_generated_messages_split_into_valid_chunks(seed: int, limit: int) -> None:
    message = generate_message(seed, limit)
    assert check_telegram_html(message, limit=len(message)) == []
    chunks = split_telegram_html(message, limit)
    assert_good_split(message, chunks, limit)
    if len(message) > limit:
        assert len(chunks) > 1
