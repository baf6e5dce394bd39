"""A fake Telegram Bot API for tests and benchmarks: a real HTTP server (aiohttp) on 127.0.0.1
at a port the OS picks, run in a thread with its own event loop, that answers like
api.telegram.org, so the real python-telegram-bot client can talk to it.

    with FakeBotApi() as api:
        bot = telegram.Bot(api.token, base_url=api.base_url)
        ...  # await bot.send_message(42, "<b>Hello</b>", parse_mode="HTML")
        assert api.sent[0].text == "<b>Hello</b>"

Requests are `GET` or `POST /bot<token>/<method>` (method names case-insensitive, as Telegram's),
with parameters in the query string, a JSON body, or a form (urlencoded or multipart: what
python-telegram-bot sends, every non-string value JSON-encoded). Answers are
`{"ok": true, "result": …}` or `{"ok": false, "error_code": N, "description": "…"}` with
`parameters` (`retry_after`, `migrate_to_chat_id`) where Telegram gives them, and the HTTP status
equal to `error_code`. A well-formed token other than the server's answers 401 Unauthorized; a
malformed path or an unknown method 404 Not Found.

Methods: getMe, sendMessage, editMessageText, sendChatAction, getUpdates (long polling),
setWebhook, deleteWebhook, getWebhookInfo, answerCallbackQuery, getChat, getChatMember,
getChatAdministrators, setMyCommands, getMyCommands, deleteMyCommands. Every chat id exists
unless a fault says otherwise; the chat's type follows from the id (positive: private, -100…:
supergroup, other negative: group) or from what `push_message` said.

It records what the bot sent (`sent`, `edits`, `answered_callbacks`) and every call (`calls`),
serves scripted updates (`push_message`, `push_callback`, `push_update`), injects faults
(`block`, `not_found`, `migrate`, `fail_next`) and, with `enforce_limits=True`, answers 429 to
messages beyond Telegram's flood limits: 30 a second in all, 1 a second to one private chat, 20 a
minute to one group (sliding windows over `time.monotonic()`; only accepted messages count).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import pytest
from aiohttp import web

from notifier.render.telegram_html import check_telegram_html
from tests.loop_thread import LoopThread

__all__ = [
    "DEFAULT_TOKEN",
    "AnsweredCallback",
    "EditedMessage",
    "FakeBotApi",
    "SentMessage",
    "fake_bot_api",
]

HOST: Final = "127.0.0.1"
DEFAULT_TOKEN: Final = "123456:TEST-TOKEN"
DEFAULT_USERNAME: Final = "notifier_test_bot"
GROUP_USER_ID: Final = 4242
"""The sender of a message `push_message` puts in a group when no `user_id` is given."""
TEXT_LIMIT: Final = 4096
MAX_POLL_TIMEOUT: Final = 50.0
"""Telegram's servers end a long poll after about 50 s whatever `timeout` asked for."""
GLOBAL_LIMIT: Final = (30, 1.0)
PRIVATE_LIMIT: Final = (1, 1.0)
GROUP_LIMIT: Final = (20, 60.0)
"""Flood limits: (messages, seconds) in a sliding window."""

CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
PARSE_MODES: Final = frozenset({"html", "markdown", "markdownv2"})

ChatType = Literal["private", "group", "supergroup"]
JsonDict = dict[str, Any]

_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
_PATH = re.compile(r"/bot([^/]*)/([^/]*)")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class SentMessage:
    """A message the server accepted from the bot (sendMessage answered ok)."""

    chat_id: int
    text: str
    """As sent: with its HTML tags and entities when parse_mode is HTML."""
    parse_mode: str | None
    protect_content: bool
    disable_preview: bool
    """`link_preview_options.is_disabled` or the older `disable_web_page_preview`."""
    reply_markup: JsonDict | None
    message_id: int
    at: float
    """`time.monotonic()` when the server accepted it."""
    disable_notification: bool = False


@dataclass(frozen=True)
class EditedMessage:
    """An accepted editMessageText: the message's new text and markup."""

    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None
    disable_preview: bool
    reply_markup: JsonDict | None
    at: float


@dataclass(frozen=True)
class AnsweredCallback:
    """An accepted answerCallbackQuery."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    at: float


@dataclass
class _Fault:
    chat_id: int | None
    method: str | None
    """Lower case, or None for any method."""
    status: int
    description: str
    times: int
    retry_after: int | None
    after: int = 0
    """Matching calls let through before the fault starts."""


@dataclass
class _BotMessage:
    """What the bot last put in one of its messages (for edits and callback queries)."""

    text: str
    parse_mode: str | None
    reply_markup: JsonDict | None
    date: int


class ApiError(Exception):
    """An answer `{"ok": false, …}`; raised inside a method handler."""

    def __init__(
        self, code: int, description: str, parameters: Mapping[str, int] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def body(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


class _Params:
    """A request's parameters, as JSON values (JSON body) or strings (query string, form), read
    with the types Telegram gives them."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def str_(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str):
            return str(value)
        raise _bad_request(f'field "{name}" must be of type String')

    def int_(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        raise _bad_request(f'field "{name}" must be of type Integer')

    def float_(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise _bad_request(f'field "{name}" must be of type Float')

    def bool_(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def json_(self, name: str) -> Any:
        """An object or array parameter: sent as JSON in a JSON body, JSON-encoded in a form."""
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad_request(f"can't parse {name} JSON object") from None
        return value

    def dict_(self, name: str) -> JsonDict | None:
        value = self.json_(name)
        if value is None or isinstance(value, dict):
            return value
        raise _bad_request(f'field "{name}" must be of type Object')

    def chat_id(self) -> int:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        try:
            chat_id = self.int_("chat_id")
        except ApiError:
            chat_id = None  # "@channelusername": no such channel here
        if chat_id is None:
            raise _bad_request("chat not found")
        return chat_id

    def disable_preview(self) -> bool:
        options = self.dict_("link_preview_options") or {}
        return bool(options.get("is_disabled")) or self.bool_("disable_web_page_preview")


def _chat_type_of(chat_id: int) -> ChatType:
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


def _plain_text(text: str, parse_mode: str | None) -> str:
    """The message's text as Telegram stores it: tags removed and entities decoded (HTML)."""
    if parse_mode is not None and parse_mode.lower() == "html":
        return html.unescape(_TAG.sub("", text))
    return text


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Window:
    """The times of the last `limit` accepted messages: a sliding window of `seconds`."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.times: deque[float] = deque(maxlen=limit)
        self.seconds = seconds

    def wait(self, now: float) -> float:
        """Seconds until one more message fits (0: it fits now)."""
        if len(self.times) < (self.times.maxlen or 0):
            return 0.0
        return max(0.0, self.times[0] + self.seconds - now)


class FakeBotApi(LoopThread):
    _thread_name = "fake-bot-api"

    """A fake Telegram Bot API on 127.0.0.1 in a background thread. See the module docstring.

    Everything the test thread calls (push_…, faults, set_admins, records) is thread-safe; the
    records are lists the server appends to, so read them freely.
    """

    token: str
    username: str
    enforce_limits: bool
    port: int
    sent: list[SentMessage]
    calls: list[tuple[str, dict[str, Any]]]
    """Every request with the right token: (method as in the URL, parameters as received:
    strings from a form or query string, JSON values from a JSON body)."""
    edits: list[EditedMessage]
    answered_callbacks: list[AnsweredCallback]
    rate_limited: int
    """How many messages got 429 from the flood limits (not from `fail_next`)."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        username: str = DEFAULT_USERNAME,
        enforce_limits: bool = False,
    ) -> None:
        if not _TOKEN.fullmatch(token):
            raise ValueError(f"a bot token looks like '123456:ABC-def', not {token!r}")
        self.token = token
        self.username = username
        self.enforce_limits = enforce_limits
        self.bot_id = int(token.partition(":")[0])
        self.port = 0
        self.sent = []
        self.calls = []
        self.edits = []
        self.answered_callbacks = []
        self.rate_limited = 0
        self._lock = threading.Lock()
        self._sent_changed = threading.Condition(self._lock)
        self._faults: list[_Fault] = []
        self._blocked: set[int] = set()
        self._not_found: set[int] = set()
        self._migrated: dict[int, int] = {}
        self._chats: dict[int, JsonDict] = {}
        self._users: dict[int, JsonDict] = {}
        self._members: dict[int, set[int]] = {}
        self._admins: dict[int, list[int]] = {}
        self._owners: dict[int, int] = {}
        self._last_message_id: dict[int, int] = {}
        self._bot_messages: dict[tuple[int, int], _BotMessage] = {}
        self._last_bot_message: dict[int, int] = {}
        self._callbacks: set[str] = set()
        self._callback_ids = itertools.count(1)
        self._updates: list[JsonDict] = []
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] = frozenset()
        self._poll_generation = 0
        self._webhook: JsonDict | None = None
        self._commands: dict[tuple[str, str], list[JsonDict]] = {}
        self._global_window = _Window(*GLOBAL_LIMIT)
        self._chat_windows: dict[int, _Window] = {}
        super().__init__()
        self._runner: web.AppRunner | None = None
        self._update_arrived: asyncio.Event | None = None  # on the server's loop
        self._closing = False
        self._methods: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "sendChatAction": self._send_chat_action,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "answerCallbackQuery": self._answer_callback_query,
                "getChat": self._get_chat,
                "getChatMember": self._get_chat_member,
                "getChatAdministrators": self._get_chat_administrators,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
            }.items()
        }

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What python-telegram-bot's `base_url` takes: it appends the token."""
        return f"http://{HOST}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """What python-telegram-bot's `base_file_url` takes (the fake holds no files: 404)."""
        return f"http://{HOST}:{self.port}/file/bot"

    async def _listen(self) -> None:
        self._closing = False
        self._update_arrived = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        # handler_cancellation: a long poll whose client hung up ends with it.
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, HOST, self.port, backlog=1024)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def _shutdown(self) -> None:
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- scripted input ----------------------------------------------------------------------

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue a raw update for getUpdates; an `update_id` is given if it has none (one given
        must be higher than every earlier one). Returns the update_id."""
        update = dict(update)
        with self._lock:
            update_id = update.setdefault("update_id", self._next_update_id)
            if not isinstance(update_id, int) or update_id < self._next_update_id:
                raise ValueError(
                    f"update_id must be an int of at least {self._next_update_id}, "
                    f"not {update_id!r}"
                )
            self._next_update_id = update_id + 1
            self._updates.append(update)
        self._wake_pollers_threadsafe()
        return update_id

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: ChatType = "private",
        username: str = "anna",
        first_name: str = "Anna",
        language_code: str = "en",
        title: str | None = None,
    ) -> int:
        """Queue an update with a message from a user, as Telegram builds it: a leading
        /command (optionally /command@bot) gets its bot_command entity. In a private chat the
        user is the chat (`user_id` defaults to `chat_id`), and writing to the bot unblocks
        it; in a group the user defaults to GROUP_USER_ID and becomes a member. Returns the
        update_id."""
        self._check_chat_type(chat_id, chat_type)
        if chat_type == "private":
            if user_id not in (None, chat_id):
                raise ValueError("in a private chat the user is the chat: user_id == chat_id")
            user_id = chat_id
        elif user_id is None:
            user_id = GROUP_USER_ID
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "username": username,
            "language_code": language_code,
        }
        with self._lock:
            self._users[user_id] = user
            chat = self._register_chat(chat_id, chat_type, user=user, title=title)
            self._members.setdefault(chat_id, set()).add(user_id)
            if chat_type == "private":
                self._blocked.discard(chat_id)
            message_id = self._next_message_id(chat_id)
        message: JsonDict = {
            "message_id": message_id,
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        command = _COMMAND.match(text)
        if command:
            message["entities"] = [
                {"offset": 0, "length": _utf16_len(command.group()), "type": "bot_command"}
            ]
        return self.push_update({"message": message})

    def push_callback(
        self,
        chat_id: int,
        data: str,
        *,
        user_id: int | None = None,
        message_id: int | None = None,
    ) -> int:
        """Queue a callback query: a user pressed an inline button with `data` under the bot's
        message `message_id` (default: the last message the bot sent to that chat). Returns the
        update_id; the query's id is in it (and answering it is recorded)."""
        with self._lock:
            if message_id is None:
                message_id = self._last_bot_message.get(chat_id)
                if message_id is None:
                    raise ValueError(f"the bot has sent no message to chat {chat_id}")
            stored = self._bot_messages.get((chat_id, message_id))
            if stored is None:
                raise ValueError(f"the bot sent no message {message_id} to chat {chat_id}")
            if user_id is None:
                user_id = chat_id if chat_id > 0 else GROUP_USER_ID
            user = self._user(user_id)
            chat = self._chat(chat_id)
            query_id = f"{self.bot_id}{next(self._callback_ids):08d}"
            self._callbacks.add(query_id)
            message = self._message_json(
                chat, message_id, stored.text, stored.parse_mode, stored.date, stored.reply_markup
            )
        return self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": message,
                    "chat_instance": str(abs(chat_id) * 7919 + self.bot_id),
                    "data": data,
                }
            }
        )

    @property
    def pending_updates(self) -> list[JsonDict]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return list(self._updates)

    @property
    def webhook_url(self) -> str | None:
        with self._lock:
            return None if self._webhook is None else str(self._webhook["url"])

    def set_admins(
        self, chat_id: int, user_ids: Iterable[int], *, owner: int | None = None
    ) -> None:
        """Make these users the group's administrators (replacing earlier ones), and `owner`
        its creator: getChatMember and getChatAdministrators answer so."""
        if chat_id >= 0:
            raise ValueError("administrators belong to a group: chat_id must be negative")
        with self._lock:
            self._register_chat(chat_id, _chat_type_of(chat_id))
            self._admins[chat_id] = [user_id for user_id in user_ids if user_id != owner]
            if owner is None:
                self._owners.pop(chat_id, None)
            else:
                self._owners[chat_id] = owner

    def commands(
        self, *, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[JsonDict]:
        """The commands set with setMyCommands for this scope and language."""
        with self._lock:
            return list(self._commands.get((self._scope_key(scope), language_code), []))

    async def wait_sent(
        self,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (the waiting is done in a thread)
    ) -> list[SentMessage]:
        """Wait (without blocking the caller's loop) until at least `n` messages were sent;
        returns them all. TimeoutError names what was sent."""
        return await asyncio.to_thread(self.wait_sent_blocking, n, timeout)

    def wait_sent_blocking(self, n: int, timeout: float = 5.0) -> list[SentMessage]:
        """`wait_sent` for a thread that has no event loop running."""
        with self._sent_changed:
            if not self._sent_changed.wait_for(lambda: len(self.sent) >= n, timeout):
                raise TimeoutError(
                    f"{len(self.sent)} message(s) sent within {timeout} s, not {n}: "
                    + repr([(m.chat_id, m.text[:40]) for m in self.sent])
                )
            return list(self.sent)

    # -- faults ------------------------------------------------------------------------------

    def block(self, chat_id: int) -> None:
        """The user blocked the bot (403 "Forbidden: bot was blocked by the user"), or for a
        group the bot was kicked (403 "Forbidden: bot was kicked from the group chat"), for
        sendMessage, editMessageText and sendChatAction."""
        with self._lock:
            self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        with self._lock:
            self._blocked.discard(chat_id)

    def not_found(self, chat_id: int) -> None:
        """Every method on this chat answers 400 "Bad Request: chat not found"."""
        with self._lock:
            self._not_found.add(chat_id)

    def migrate(self, chat_id: int, to_chat_id: int) -> None:
        """The group became the supergroup `to_chat_id` (-100…): every method on the old id
        answers 400 with parameters.migrate_to_chat_id; the new id works."""
        if chat_id >= 0 or chat_id == to_chat_id or not str(to_chat_id).startswith("-100"):
            raise ValueError("a group (negative id) migrates to a supergroup id -100…")
        with self._lock:
            old = self._register_chat(chat_id, "group")
            self._migrated[chat_id] = to_chat_id
            self._register_chat(to_chat_id, "supergroup", title=old.get("title"))
            self._members.setdefault(to_chat_id, set()).update(self._members.get(chat_id, ()))

    def fail_next(
        self,
        chat_id: int | None,
        status: int,
        description: str,
        *,
        times: int = 1,
        retry_after: int | None = None,
        method: str | None = "sendMessage",
        after: int = 0,
    ) -> None:
        """Answer the next `times` calls of `method` (None: any method) to `chat_id` (None:
        any chat, or none) with `{"ok": false, "error_code": status, "description":
        description}` and parameters.retry_after when given, once `after` such calls have gone
        through as usual. Checked before anything else."""
        if not 400 <= status <= 599:
            raise ValueError(f"status must be 4xx or 5xx, not {status}")
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        if retry_after is not None and retry_after < 1:
            raise ValueError(f"retry_after must be at least 1, not {retry_after}")
        fault = _Fault(
            chat_id,
            None if method is None else method.lower(),
            status,
            description,
            times,
            retry_after,
            after,
        )
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, chat_id: int | None) -> ApiError | None:
        with self._lock:
            for fault in self._faults:
                if fault.method is not None and fault.method != method:
                    continue
                if fault.chat_id is not None and fault.chat_id != chat_id:
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                parameters = (
                    None if fault.retry_after is None else {"retry_after": fault.retry_after}
                )
                return ApiError(fault.status, fault.description, parameters)
        return None

    def _resolve_chat(self, chat_id: int, *, sending: bool) -> JsonDict:
        """The chat, or the error Telegram gives for it (holding the lock)."""
        if chat_id in self._not_found:
            raise _bad_request("chat not found")
        if chat_id in self._migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._migrated[chat_id]},
            )
        if sending and chat_id in self._blocked:
            if chat_id > 0:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            kind = self._chat(chat_id)["type"]
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        return self._chat(chat_id)

    def _flood_wait(self, chat_id: int, now: float) -> int | None:
        """retry_after for one more message to `chat_id` now, or None if it may go."""
        if not self.enforce_limits:
            return None
        wait = max(self._global_window.wait(now), self._chat_window(chat_id).wait(now))
        return max(1, math.ceil(wait)) if wait > 0 else None

    def _chat_window(self, chat_id: int) -> _Window:
        window = self._chat_windows.get(chat_id)
        if window is None:
            window = _Window(*(PRIVATE_LIMIT if chat_id > 0 else GROUP_LIMIT))
            self._chat_windows[chat_id] = window
        return window

    # -- chats and users (holding the lock) ----------------------------------------------------

    @staticmethod
    def _check_chat_type(chat_id: int, chat_type: ChatType) -> None:
        if chat_type == "private" and chat_id <= 0:
            raise ValueError("a private chat's id is the user's: positive")
        if chat_type == "group" and chat_id >= 0:
            raise ValueError("a group's chat id is negative")
        if chat_type == "supergroup" and not str(chat_id).startswith("-100"):
            raise ValueError("a supergroup's chat id is -100…")
        if chat_type not in ("private", "group", "supergroup"):
            raise ValueError(f"chat_type must be private, group or supergroup, not {chat_type!r}")

    def _register_chat(
        self,
        chat_id: int,
        chat_type: ChatType,
        *,
        user: JsonDict | None = None,
        title: str | None = None,
    ) -> JsonDict:
        chat: JsonDict = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            user = user or self._user(chat_id)
            chat["first_name"] = user["first_name"]
            if user.get("username"):
                chat["username"] = user["username"]
        else:
            known = self._chats.get(chat_id, {})
            chat["title"] = title or known.get("title") or f"Test group {chat_id}"
        self._chats[chat_id] = chat
        return chat

    def _chat(self, chat_id: int) -> JsonDict:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._register_chat(chat_id, _chat_type_of(chat_id))
        return chat

    def _user(self, user_id: int) -> JsonDict:
        return self._users.get(user_id) or {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User {user_id}",
        }

    def _bot_user(self) -> JsonDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Notifier Test Bot",
            "username": self.username,
        }

    def _next_message_id(self, chat_id: int) -> int:
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        return message_id

    def _message_json(
        self,
        chat: JsonDict,
        message_id: int,
        text: str,
        parse_mode: str | None,
        date: int,
        reply_markup: JsonDict | None,
        *,
        edit_date: int | None = None,
    ) -> JsonDict:
        message: JsonDict = {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": chat,
            "date": date,
            "text": _plain_text(text, parse_mode),
        }
        if edit_date is not None:
            message["edit_date"] = edit_date
        if reply_markup is not None:
            message["reply_markup"] = reply_markup
        return message

    @staticmethod
    def _scope_key(scope: Mapping[str, Any] | None) -> str:
        return json.dumps(dict(scope or {"type": "default"}), sort_keys=True)

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            result = await self._answer(request)
        except ApiError as error:
            return web.json_response(error.body(), status=error.code)
        return web.json_response({"ok": True, "result": result})

    async def _answer(self, request: web.Request) -> Any:
        match = _PATH.fullmatch(request.path)
        if match is None:
            raise ApiError(404, "Not Found")
        token, method_name = match.groups()
        if not _TOKEN.fullmatch(token):
            raise ApiError(404, "Not Found")
        if token != self.token:
            raise ApiError(401, "Unauthorized")
        params = _Params(await self._read_params(request))
        with self._lock:
            self.calls.append((method_name, dict(params.values)))
        method = method_name.lower()
        handler = self._methods.get(method)
        if handler is None:
            raise ApiError(404, "Not Found")
        try:
            chat_id = params.int_("chat_id")
        except ApiError:
            chat_id = None
        fault = self._take_fault(method, chat_id)
        if fault is not None:
            raise fault
        return await handler(params)

    @staticmethod
    async def _read_params(request: web.Request) -> dict[str, Any]:
        values: dict[str, Any] = dict(request.query)
        if not request.can_read_body:
            return values
        body = await request.read()
        if not body.strip():
            return values  # python-telegram-bot POSTs parameterless calls with no body
        if request.content_type == "application/json":
            try:
                data = json.loads(body)
            except ValueError:
                raise _bad_request("can't parse JSON body") from None
            if not isinstance(data, dict):
                raise _bad_request("the JSON body must be an object")
            values.update(data)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                values[name] = value if isinstance(value, str) else f"<file {name}>"
        else:
            raise _bad_request(f"unsupported Content-Type {request.content_type}")
        return values

    # -- methods -----------------------------------------------------------------------------

    async def _get_me(self, params: _Params) -> JsonDict:
        return self._bot_user() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @staticmethod
    def _checked_text(params: _Params) -> tuple[str, str | None]:
        """The message text and parse mode, or the 400 Telegram gives for them."""
        text = params.str_("text") or ""
        parse_mode = params.str_("parse_mode") or None
        if parse_mode is not None and parse_mode.lower() not in PARSE_MODES:
            raise _bad_request("unsupported parse_mode")
        plain = _plain_text(text, parse_mode)
        if not plain.strip():
            raise _bad_request("message text is empty")
        if parse_mode is not None and parse_mode.lower() == "html":
            problems = check_telegram_html(text, limit=len(text))
            problems = [p for p in problems if p != "The message has no text."]
            if problems:
                raise _bad_request(f"can't parse entities: {problems[0]}")
        if len(plain) > TEXT_LIMIT:
            raise _bad_request("message is too long")
        return text, parse_mode

    async def _send_message(self, params: _Params) -> JsonDict:
        chat_id = params.chat_id()
        reply_markup = params.dict_("reply_markup")
        with self._sent_changed:
            chat = self._resolve_chat(chat_id, sending=True)
            text, parse_mode = self._checked_text(params)
            now = time.monotonic()
            retry_after = self._flood_wait(chat_id, now)
            if retry_after is not None:
                self.rate_limited += 1
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
            if self.enforce_limits:
                self._global_window.times.append(now)
                self._chat_window(chat_id).times.append(now)
            message_id = self._next_message_id(chat_id)
            date = int(time.time())
            self._bot_messages[chat_id, message_id] = _BotMessage(
                text, parse_mode, reply_markup, date
            )
            self._last_bot_message[chat_id] = message_id
            self.sent.append(
                SentMessage(
                    chat_id=chat_id,
                    text=text,
                    parse_mode=parse_mode,
                    protect_content=params.bool_("protect_content"),
                    disable_preview=params.disable_preview(),
                    reply_markup=reply_markup,
                    message_id=message_id,
                    at=now,
                    disable_notification=params.bool_("disable_notification"),
                )
            )
            self._sent_changed.notify_all()
            return self._message_json(chat, message_id, text, parse_mode, date, reply_markup)

    async def _edit_message_text(self, params: _Params) -> JsonDict:
        if params.raw("inline_message_id") is not None:
            raise _bad_request("message to edit not found")
        chat_id = params.chat_id()
        message_id = params.int_("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        reply_markup = params.dict_("reply_markup")
        with self._lock:
            chat = self._resolve_chat(chat_id, sending=True)
            text, parse_mode = self._checked_text(params)
            stored = self._bot_messages.get((chat_id, message_id))
            if stored is None:
                if 0 < message_id <= self._last_message_id.get(chat_id, 0):
                    raise _bad_request("message can't be edited")
                raise _bad_request("message to edit not found")
            if (
                text == stored.text
                and _plain_text(text, parse_mode) == _plain_text(stored.text, stored.parse_mode)
                and reply_markup == stored.reply_markup
            ):
                raise _bad_request(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
            stored.text, stored.parse_mode, stored.reply_markup = text, parse_mode, reply_markup
            self.edits.append(
                EditedMessage(
                    chat_id=chat_id,
                    message_id=message_id,
                    text=text,
                    parse_mode=parse_mode,
                    disable_preview=params.disable_preview(),
                    reply_markup=reply_markup,
                    at=time.monotonic(),
                )
            )
            return self._message_json(
                chat,
                message_id,
                text,
                parse_mode,
                stored.date,
                reply_markup,
                edit_date=int(time.time()),
            )

    async def _send_chat_action(self, params: _Params) -> bool:
        chat_id = params.chat_id()
        with self._lock:
            self._resolve_chat(chat_id, sending=True)
        if params.str_("action") not in CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _get_updates(self, params: _Params) -> list[JsonDict]:
        offset = params.int_("offset")
        limit = min(max(params.int_("limit") or 100, 1), 100)
        timeout = min(max(params.float_("timeout") or 0.0, 0.0), MAX_POLL_TIMEOUT)
        allowed = params.json_("allowed_updates")
        with self._lock:
            if self._webhook is not None:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(str(kind) for kind in allowed)
            if offset is not None and offset < 0:
                del self._updates[:offset]
            elif offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._poll_generation += 1
            generation = self._poll_generation
        self._wake_pollers()  # a long poll already waiting is terminated, as Telegram does
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            arrived = self._update_arrived
            assert arrived is not None
            with self._lock:
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                batch = [u for u in self._updates if self._allowed(u)][:limit]
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing:
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), remaining)

    def _allowed(self, update: JsonDict) -> bool:
        if not self._allowed_updates:
            return True
        return any(kind in self._allowed_updates for kind in update if kind != "update_id")

    def _wake_pollers(self) -> None:
        """On the server's loop: wake every waiting getUpdates to look again."""
        arrived = self._update_arrived
        if arrived is not None:
            self._update_arrived = asyncio.Event()
            arrived.set()

    def _wake_pollers_threadsafe(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed between the check and the call
                loop.call_soon_threadsafe(self._wake_pollers)

    async def _set_webhook(self, params: _Params) -> bool:
        url = params.str_("url") or ""
        if not url:
            return await self._delete_webhook(params)
        if not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.str_("secret_token")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise _bad_request("secret token contains unallowed characters")
        webhook: JsonDict = {"url": url}
        allowed = params.json_("allowed_updates")
        if isinstance(allowed, list):
            webhook["allowed_updates"] = allowed
        max_connections = params.int_("max_connections")
        if max_connections is not None:
            webhook["max_connections"] = max_connections
        with self._lock:
            if params.bool_("drop_pending_updates"):
                self._updates.clear()
            self._webhook = webhook
        return True

    async def _delete_webhook(self, params: _Params) -> bool:
        with self._lock:
            if params.bool_("drop_pending_updates"):
                self._updates.clear()
            self._webhook = None
        return True

    async def _get_webhook_info(self, params: _Params) -> JsonDict:
        with self._lock:
            info: JsonDict = {"url": "", "has_custom_certificate": False}
            info |= self._webhook or {}
            info["pending_update_count"] = len(self._updates)
        return info

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.str_("callback_query_id") or ""
        with self._lock:
            if query_id not in self._callbacks:
                raise _bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            self._callbacks.discard(query_id)
            self.answered_callbacks.append(
                AnsweredCallback(
                    callback_query_id=query_id,
                    text=params.str_("text"),
                    show_alert=params.bool_("show_alert"),
                    url=params.str_("url"),
                    at=time.monotonic(),
                )
            )
        return True

    async def _get_chat(self, params: _Params) -> JsonDict:
        chat_id = params.chat_id()
        with self._lock:
            chat = dict(self._resolve_chat(chat_id, sending=False))
        chat |= {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        return chat

    def _member_json(self, chat_id: int, user_id: int) -> JsonDict:
        """A ChatMember as Telegram gives it (holding the lock)."""
        user = self._user(user_id)
        if self._owners.get(chat_id) == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in self._admins.get(chat_id, ()):
            rights = (
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
                "can_pin_messages",
            )
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_promote_members": False,
                **dict.fromkeys(rights, True),
            }
        if chat_id == user_id or user_id in self._members.get(chat_id, ()):
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    async def _get_chat_member(self, params: _Params) -> JsonDict:
        chat_id = params.chat_id()
        user_id = params.int_("user_id")
        if user_id is None:
            raise _bad_request("user_id is empty")
        with self._lock:
            self._resolve_chat(chat_id, sending=False)
            if chat_id > 0 and user_id != chat_id:
                raise _bad_request("user not found")
            return self._member_json(chat_id, user_id)

    async def _get_chat_administrators(self, params: _Params) -> list[JsonDict]:
        chat_id = params.chat_id()
        with self._lock:
            self._resolve_chat(chat_id, sending=False)
            if chat_id > 0:
                raise _bad_request("there are no administrators in the private chat")
            owner = self._owners.get(chat_id)
            user_ids = ([] if owner is None else [owner]) + self._admins.get(chat_id, [])
            return [self._member_json(chat_id, user_id) for user_id in user_ids]

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.json_("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        checked: list[JsonDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _BOT_COMMAND.fullmatch(name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad_request("command description is empty or too long")
            checked.append({"command": name, "description": description})
        key = (self._scope_key(params.dict_("scope")), params.str_("language_code") or "")
        with self._lock:
            self._commands[key] = checked
        return True

    async def _get_my_commands(self, params: _Params) -> list[JsonDict]:
        key = (self._scope_key(params.dict_("scope")), params.str_("language_code") or "")
        with self._lock:
            return list(self._commands.get(key, []))

    async def _delete_my_commands(self, params: _Params) -> bool:
        key = (self._scope_key(params.dict_("scope")), params.str_("language_code") or "")
        with self._lock:
            self._commands.pop(key, None)
        return True


@pytest.fixture
def fake_bot_api() -> Iterator[FakeBotApi]:
    """A fake Bot API without flood limits, stopped after the test. Point the client at it:
    `telegram.Bot(fake_bot_api.token, base_url=fake_bot_api.base_url)`."""
    with FakeBotApi() as api:
        yield api
