"""Telegram HTML: check a message against what the Bot API accepts in HTML parse mode, and split
a long message into chunks that each fit Telegram's length limit and are valid on their own.

Parsing goes through the stdlib `html.parser`; every event is mapped back to its exact span of
the raw text, so positions in problems are 0-based character offsets into the message.
"""

from __future__ import annotations

import html
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final, Literal

__all__ = [
    "ALLOWED_TAGS",
    "TELEGRAM_LIMIT",
    "check_telegram_html",
    "escape",
    "escape_attr",
    "split_telegram_html",
]

TELEGRAM_LIMIT: Final = 4096

#: Tag -> attributes it may carry. `a` needs `href`; `span` needs class="tg-spoiler";
#: `code` may carry class="language-…" (syntax highlighting inside <pre>).
ALLOWED_TAGS: Final[dict[str, frozenset[str]]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
    "tg-spoiler": frozenset(),
    "span": frozenset({"class"}),
}

#: Named entities Telegram understands; numeric ones (&#123; &#x1F600;) are all accepted.
ALLOWED_ENTITIES: Final = frozenset({"lt", "gt", "amp", "quot"})

_WHITESPACE: Final = frozenset(" \t\n\r\f\v")
_BARE: Final = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def escape(text: str) -> str:
    """Escape a text node: & < > become entities, quotes stay as they are."""
    return html.escape(text, quote=False)


def escape_attr(value: str) -> str:
    """Escape an attribute value for use inside double (or single) quotes."""
    return html.escape(value, quote=True)


# --- tokenizing ----------------------------------------------------------------------------------

Attrs = Sequence[tuple[str, str | None]]
TokenKind = Literal["data", "start", "startend", "end", "entity", "charref", "markup"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: TokenKind
    start: int
    raw: str
    name: str = ""
    attrs: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class _Event:
    kind: TokenKind
    pos: int
    name: str = ""
    attrs: tuple[tuple[str, str | None], ...] = ()
    raw: str = ""  # the start tag's exact text, or what kind of markup


class _Recorder(HTMLParser):
    """Records parser events with their absolute offsets; nothing is interpreted here."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=False)
        self.events: list[_Event] = []
        self._line_starts = [0]
        for index, char in enumerate(text):
            if char == "\n":
                self._line_starts.append(index + 1)

    def _pos(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _add(self, kind: TokenKind, name: str = "", raw: str = "", attrs: Attrs = ()) -> None:
        self.events.append(_Event(kind, self._pos(), name, tuple(attrs), raw))

    def handle_starttag(self, tag: str, attrs: Attrs) -> None:
        self._add("start", tag, self.get_starttag_text() or "", attrs)

    def handle_startendtag(self, tag: str, attrs: Attrs) -> None:
        self._add("startend", tag, self.get_starttag_text() or "", attrs)

    def handle_endtag(self, tag: str) -> None:
        self._add("end", tag)

    def handle_data(self, data: str) -> None:
        self._add("data")

    def handle_entityref(self, name: str) -> None:
        self._add("entity", name)

    def handle_charref(self, name: str) -> None:
        self._add("charref", name)

    def handle_comment(self, data: str) -> None:
        self._add("markup", "comment")

    def handle_decl(self, decl: str) -> None:
        self._add("markup", "declaration")

    def handle_pi(self, data: str) -> None:
        self._add("markup", "processing instruction")

    def unknown_decl(self, data: str) -> None:
        self._add("markup", "declaration")


def _expected_length(text: str, event: _Event, end: int) -> int:
    """How much of text[event.pos:end] the event itself spans; the rest is plain data."""
    pos = event.pos
    if event.kind in ("start", "startend"):
        return len(event.raw)
    if event.kind == "end":
        close = text.find(">", pos, end)
        return end - pos if close < 0 else close + 1 - pos
    if event.kind in ("entity", "charref"):
        length = len(event.name) + (1 if event.kind == "entity" else 2)
        return length + 1 if text.startswith(";", pos + length) else length
    return end - pos


def _tokenize(text: str) -> list[_Token]:
    """Tokens covering `text` exactly, in order, without gaps."""
    recorder = _Recorder(text)
    recorder.feed(text)
    recorder.close()
    events = sorted(recorder.events, key=lambda e: e.pos)
    tokens: list[_Token] = []
    covered = 0
    for index, event in enumerate(events):
        end = events[index + 1].pos if index + 1 < len(events) else len(text)
        if event.pos < covered or end <= event.pos:
            continue
        if event.pos > covered:
            tokens.append(_Token("data", covered, text[covered : event.pos]))
        length = min(_expected_length(text, event, end), end - event.pos)
        raw = text[event.pos : event.pos + length]
        tokens.append(_Token(event.kind, event.pos, raw, event.name or event.raw, event.attrs))
        if event.pos + length < end:
            tokens.append(_Token("data", event.pos + length, text[event.pos + length : end]))
        covered = end
    if covered < len(text):
        tokens.append(_Token("data", covered, text[covered:]))
    return tokens


# --- checking ------------------------------------------------------------------------------------


def _attribute_problems(token: _Token) -> list[str]:
    where = f"<{token.name}> at position {token.start}"
    allowed = ALLOWED_TAGS[token.name]
    problems: list[str] = []
    seen: set[str] = set()
    for name, value in token.attrs:
        if name in seen:
            problems.append(f"{where} repeats the attribute {name!r}.")
            continue
        seen.add(name)
        if name not in allowed:
            problems.append(f"{where} has the attribute {name!r}, which Telegram does not allow.")
        elif token.name == "a" and not (value or "").strip():
            problems.append(f"{where} has an empty href.")
        elif token.name == "span" and value != "tg-spoiler":
            problems.append(f'{where} must have class="tg-spoiler", not {value!r}.')
        elif token.name == "code" and not (value or "").startswith("language-"):
            problems.append(f'{where} may only have class="language-…", not {value!r}.')
        elif token.name == "blockquote" and value not in (None, "", "expandable"):
            problems.append(f"{where}: 'expandable' takes no value, got {value!r}.")
    if token.name == "a" and "href" not in seen:
        problems.append(f"{where} needs an href attribute.")
    if token.name == "span" and "class" not in seen:
        problems.append(f'{where} needs class="tg-spoiler".')
    return problems


def _charref_problem(token: _Token) -> str | None:
    name = token.name
    try:
        code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
    except ValueError:
        return f"The character reference {token.raw} at position {token.start} is malformed."
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return f"The character reference {token.raw} at position {token.start} is out of range."
    return None


def check_telegram_html(text: str, *, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Problems that would make Telegram reject `text` in HTML parse mode; [] means valid.

    Checks tags and their attributes, nesting, entities, bare `<`, `>` and `&`, that the message
    has some text, and that len(text) (tags included, so stricter than Telegram) is within limit.
    """
    problems: list[str] = []
    stack: list[_Token] = []
    content: list[str] = []
    for token in _tokenize(text):
        at = f"at position {token.start}"
        if token.kind == "data":
            content.append(token.raw)
            for offset, char in enumerate(token.raw):
                if char in _BARE:
                    problems.append(
                        f"Bare {char!r} at position {token.start + offset}; "
                        f"write it as {_BARE[char]}."
                    )
        elif token.kind == "markup":
            problems.append(f"An HTML {token.name} {at} is not allowed.")
        elif token.kind == "startend":
            problems.append(f"The self-closing tag {token.raw} {at} is not allowed.")
        elif token.kind == "start":
            if token.name in ALLOWED_TAGS:
                problems.extend(_attribute_problems(token))
            else:
                problems.append(f"The tag <{token.name}> {at} is not allowed.")
            stack.append(token)
        elif token.kind == "end":
            if token.raw[2:-1].strip().lower() != token.name or not token.raw.endswith(">"):
                problems.append(f"The closing tag {token.raw!r} {at} is malformed.")
            if stack and stack[-1].name == token.name:
                stack.pop()
            elif any(open_.name == token.name for open_ in stack):
                problems.append(
                    f"Misnested tags: </{token.name}> {at} closes <{token.name}> while "
                    f"<{stack[-1].name}> (position {stack[-1].start}) is still open."
                )
                while stack.pop().name != token.name:
                    pass
            elif token.name not in ALLOWED_TAGS:
                problems.append(f"The tag </{token.name}> {at} is not allowed.")
            else:
                problems.append(f"The closing tag </{token.name}> {at} has no opening tag.")
        elif token.kind == "entity":
            if not token.raw.endswith(";"):
                problems.append(f"The entity {token.raw} {at} lacks its ';'.")
            elif token.name not in ALLOWED_ENTITIES:
                problems.append(
                    f"The entity {token.raw} {at} is not supported; "
                    "use &lt; &gt; &amp; &quot; or a numeric one."
                )
            else:
                content.append(html.unescape(token.raw))
        else:  # charref
            if not token.raw.endswith(";"):
                problems.append(f"The character reference {token.raw} {at} lacks its ';'.")
            elif problem := _charref_problem(token):
                problems.append(problem)
            else:
                content.append(html.unescape(token.raw))
    problems.extend(f"<{open_.name}> at position {open_.start} is never closed." for open_ in stack)
    if not "".join(content).strip():
        problems.append("The message has no text.")
    if len(text) > limit:
        problems.append(f"The message is {len(text)} characters long, over the limit of {limit}.")
    return problems


# --- splitting -----------------------------------------------------------------------------------

UnitKind = Literal["char", "entity", "open", "close"]

# Boundary categories, best last: never between glued characters unless forced, then inside a
# word, then at spaces, line breaks, paragraph breaks.
_GLUE, _HARD, _SPACE, _LINE, _PARAGRAPH = range(5)


@dataclass(frozen=True, slots=True)
class _Unit:
    """An atom of the message that a split never cuts: one character, entity or tag."""

    kind: UnitKind
    raw: str
    name: str = ""

    @property
    def is_space(self) -> bool:
        return self.kind == "char" and self.raw in _WHITESPACE

    @property
    def has_text(self) -> bool:
        if self.kind == "char":
            return self.raw not in _WHITESPACE
        return self.kind == "entity" and bool(html.unescape(self.raw).strip())


def _units(tokens: list[_Token]) -> list[_Unit]:
    units: list[_Unit] = []
    for token in tokens:
        if token.kind == "data":
            units.extend(_Unit("char", char) for char in token.raw)
        elif token.kind in ("entity", "charref"):
            units.append(_Unit("entity", token.raw))
        elif token.kind == "start":
            units.append(_Unit("open", token.raw, token.name))
        elif token.kind == "end":
            units.append(_Unit("close", token.raw, token.name))
        else:  # pragma: no cover - rejected by the checker before we get here
            raise ValueError(f"unexpected {token.kind} at position {token.start}")
    return units


def _is_glue(before: str, after: str) -> bool:
    """Whether a cut between these two characters would break a character cluster."""
    if before == "\r" and after == "\n":
        return True
    if before == "\u200d" or unicodedata.category(after) in ("Mn", "Mc", "Me"):
        return True
    code = ord(after)
    if after == "\u200d" or 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF:
        return True
    if 0xE0020 <= code <= 0xE007F:  # emoji tag sequences (subdivision flags)
        return True
    return 0x1F1E6 <= ord(before) <= 0x1F1FF and 0x1F1E6 <= code <= 0x1F1FF


def _categories(units: list[_Unit]) -> list[int]:
    """Category of the boundary before each unit (and at the end)."""
    categories = [_HARD] * (len(units) + 1)
    for index, unit in enumerate(units):
        previous = units[index - 1] if index else None
        if unit.is_space and not (previous and previous.is_space):
            end = index
            while end < len(units) and units[end].is_space:
                end += 1
            newlines = sum(units[k].raw == "\n" for k in range(index, end))
            categories[index] = _PARAGRAPH if newlines >= 2 else _LINE if newlines else _SPACE
        elif previous and previous.kind == "char" == unit.kind and _is_glue(previous.raw, unit.raw):
            categories[index] = _GLUE
    return categories


def _closers(stack: tuple[_Unit, ...]) -> str:
    return "".join(f"</{unit.name}>" for unit in reversed(stack))


def _strip(units: Sequence[_Unit]) -> str:
    """The units' raw text without leading/trailing whitespace, looking through tags."""
    solid = [i for i, u in enumerate(units) if u.kind in ("char", "entity") and not u.is_space]
    first, last = (solid[0], solid[-1]) if solid else (len(units), -1)
    return "".join(
        u.raw for i, u in enumerate(units) if not (u.is_space and (i < first or i > last))
    )


def split_telegram_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split valid Telegram HTML into chunks of at most `limit` characters (len() of the raw
    text, tags included), each valid on its own.

    Cuts go at the last paragraph break that fits, else the last line break, else the last space,
    else inside a word (avoiding the middle of a character cluster) — never inside a tag or an
    entity. Tags open at a cut are closed at the end of the chunk and reopened, with the same
    attributes, at the start of the next. Whitespace at the cuts is dropped, and each chunk is
    stripped of leading and trailing whitespace. A message within the limit is returned as is.

    Raises ValueError if `text` is not valid Telegram HTML, or if tags open at some point take so
    much room that no cut fits the limit.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    if not text.strip():
        return []
    if len(text) <= limit:
        return [text]
    problems = check_telegram_html(text, limit=sys.maxsize)
    if problems:
        raise ValueError("not valid Telegram HTML: " + " ".join(problems[:5]))

    units = _units(_tokenize(text))
    count = len(units)
    categories = _categories(units)
    stacks: list[tuple[_Unit, ...]] = [()]
    offsets = [0]  # offsets[i]: raw length of units[:i]
    for unit in units:
        stack = stacks[-1]
        if unit.kind == "open":
            stack = (*stack, unit)
        elif unit.kind == "close":
            stack = stack[:-1]
        stacks.append(stack)
        offsets.append(offsets[-1] + len(unit.raw))
    reopen = [sum(len(u.raw) for u in stack) for stack in stacks]
    close = [len(_closers(stack)) for stack in stacks]
    text_after = [False] * (count + 1)
    for index in range(count - 1, -1, -1):
        text_after[index] = text_after[index + 1] or units[index].has_text

    def cost(start: int, end: int) -> int:
        return reopen[start] + offsets[end] - offsets[start] + close[end]

    def skip_to_text(index: int) -> int:
        # Whitespace is dropped; a closing tag right at the start would only close what the
        # chunk has just reopened, so leave both out.
        while index < count and (units[index].is_space or units[index].kind == "close"):
            index += 1
        return index

    chunks: list[str] = []
    start = skip_to_text(0)
    while start < count and text_after[start]:
        if cost(start, count) <= limit:
            end = count
        else:
            best: dict[int, int] = {}
            seen_text = False
            for end in range(start + 1, count):
                if reopen[start] + offsets[end] - offsets[start] > limit:
                    break
                seen_text = seen_text or units[end - 1].has_text
                if seen_text and cost(start, end) <= limit:
                    best[categories[end]] = end
            if not best:
                raise ValueError(
                    f"cannot split at position {offsets[start]} within {limit} characters: "
                    f"the open tags {''.join(u.raw for u in stacks[start])} take too much room"
                )
            end = best[max(best)]
            if units[end - 1].kind == "open":
                while units[end - 1].kind == "open":
                    end -= 1
            else:
                while end < count and units[end].kind == "close" and cost(start, end + 1) <= limit:
                    end += 1
        body = "".join(u.raw for u in stacks[start]) + _strip(units[start:end])
        chunks.append(body + _closers(stacks[end]))
        start = skip_to_text(end)
    return chunks
