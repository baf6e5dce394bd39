"""The fake Bot API, driven by the real python-telegram-bot client over HTTP: every answer must
make the client return or raise exactly what it would against api.telegram.org."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
)

from tests.fake_telegram import FakeBotApi, SentMessage


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PTB_TIMEDELTA, python-telegram-bot 22 warns (PTBDeprecationWarning) inside
    RetryAfter's constructor, which under filterwarnings=error replaces the RetryAfter itself."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def limited_api() -> Iterator[FakeBotApi]:
    with FakeBotApi(enforce_limits=True) as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url) as client:
        yield client


@pytest.fixture
async def limited_bot(limited_api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(limited_api.token, base_url=limited_api.base_url) as client:
        yield client


# -- the protocol, seen by a plain HTTP client -----------------------------------------------


async def test_answers_are_shaped_like_telegrams(api: FakeBotApi) -> None:
    url = f"http://127.0.0.1:{api.port}"
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post(f"/bot{api.token}/sendMessage", json={"chat_id": 5})
        assert (response.status_code, response.json()) == (
            400,
            {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"},
        )
        response = await client.get(f"/bot{api.token}/sendmessage?chat_id=5&text=hi")
        assert response.status_code == 200
        assert response.json()["result"]["text"] == "hi"
        response = await client.post("/bot999:WRONG/getMe")
        assert (response.status_code, response.json()) == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )
        response = await client.post(f"/bot{api.token}/sendPhoto")
        assert (response.status_code, response.json()) == (
            404,
            {"ok": False, "error_code": 404, "description": "Not Found"},
        )
        api.fail_next(5, 429, "Too Many Requests: retry after 3", retry_after=3)
        response = await client.post(
            f"/bot{api.token}/sendMessage", data={"chat_id": "5", "text": "hi"}
        )
        assert response.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        }
    assert [text for text in (m.text for m in api.sent)] == ["hi"]
    assert api.calls[1] == ("sendmessage", {"chat_id": "5", "text": "hi"})
    assert api.calls[0] == ("sendMessage", {"chat_id": 5})


async def test_get_me_and_a_wrong_token(api: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "notifier_test_bot")
    assert bot.bot.username == "notifier_test_bot"  # fetched by `async with`
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("999:WRONG", base_url=api.base_url):
            pass
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy")


# -- sending ----------------------------------------------------------------------------------


async def test_send_message_is_recorded_with_its_options(api: FakeBotApi, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Pray", callback_data="pray:7")]])
    before = time.monotonic()
    message = await bot.send_message(
        42,
        '<b>Sentenced</b> &amp; moved — <a href="https://example.org/a?b=1&amp;c=2">news</a>',
        parse_mode="HTML",
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        protect_content=True,
        reply_markup=keyboard,
    )
    second = await bot.send_message(42, "plain", disable_notification=True)
    other = await bot.send_message(43, "other chat")

    assert (message.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert message.text == "Sentenced & moved — news"  # as Telegram stores it: entities parsed
    assert message.chat.id == 42
    assert message.from_user is not None
    assert message.from_user.username == "notifier_test_bot"
    first = api.sent[0]
    assert first == SentMessage(
        chat_id=42,
        text='<b>Sentenced</b> &amp; moved — <a href="https://example.org/a?b=1&amp;c=2">news</a>',
        parse_mode="HTML",
        protect_content=True,
        disable_preview=True,
        reply_markup={"inline_keyboard": [[{"text": "Pray", "callback_data": "pray:7"}]]},
        message_id=1,
        at=first.at,
    )
    assert before <= first.at <= time.monotonic()
    assert (api.sent[1].parse_mode, api.sent[1].disable_preview) == (None, False)
    assert api.sent[1].disable_notification
    # What python-telegram-bot puts on the wire: a form, every non-string value JSON-encoded.
    method, params = api.calls[1]
    assert method == "sendMessage"
    assert params["link_preview_options"] == '{"is_disabled": true}'
    assert params["protect_content"] == "true"
    assert params["chat_id"] == "42"


async def test_disable_web_page_preview_counts_as_preview_off(api: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(1, "https://example.org", disable_web_page_preview=True)
    assert api.sent[0].disable_preview
    # python-telegram-bot 22 never sends disable_web_page_preview; it sends this instead:
    assert api.calls[-1][1]["link_preview_options"] == '{"is_disabled": true}'


@pytest.mark.parametrize(
    ("text", "parse_mode", "expected"),
    [
        ("<b>open", "HTML", "Can't parse entities: <b> at position 0 is never closed."),
        ("<div>x</div>", "HTML", "Can't parse entities: the tag <div> at position 0"),
        ("a < b", "HTML", "Can't parse entities: bare '<'"),
        ("   ", None, "Message text is empty"),
        ("<b> </b>", "HTML", "Message text is empty"),
        ("x" * 4097, None, "Message is too long"),
        ("hi", "BBCode", "Unsupported parse_mode"),
    ],
)
async def test_invalid_messages_are_bad_requests(
    api: FakeBotApi, bot: Bot, text: str, parse_mode: str | None, expected: str
) -> None:
    # python-telegram-bot strips "Bad Request: " and capitalizes (lower-casing the rest).
    with pytest.raises(BadRequest) as raised:
        await bot.send_message(7, text, parse_mode=parse_mode)
    assert raised.value.message.startswith(expected.capitalize()[: len(expected)])
    assert api.sent == []


async def test_html_at_the_limit_counts_text_not_tags(api: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(7, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    assert len(api.sent) == 1


async def test_blocked_chat_is_forbidden(api: FakeBotApi, bot: Bot) -> None:
    api.block(42)
    api.block(-77)
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was blocked by the user$"):
        await bot.send_message(42, "hello")
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was kicked from the group chat$"):
        await bot.send_message(-77, "hello")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(42, ChatAction.TYPING)
    api.push_message(42, "/start")  # writing to the bot again unblocks it
    await bot.send_message(42, "welcome back")
    assert [m.text for m in api.sent] == ["welcome back"]


async def test_unknown_chat_is_not_found(api: FakeBotApi, bot: Bot) -> None:
    api.not_found(9)
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(9, "hello")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat(9)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message("@nosuchchannel", "hello")


async def test_migrated_group_answers_the_new_chat_id(api: FakeBotApi, bot: Bot) -> None:
    api.migrate(-300, -1001234567890)
    with pytest.raises(ChatMigrated) as raised:
        await bot.send_message(-300, "prayer chain digest")
    assert raised.value.new_chat_id == -1001234567890
    message = await bot.send_message(raised.value.new_chat_id, "prayer chain digest")
    assert message.chat.type == "supergroup"
    assert [(m.chat_id, m.message_id) for m in api.sent] == [(-1001234567890, 1)]


async def test_fail_next_injects_any_error(api: FakeBotApi, bot: Bot) -> None:
    api.fail_next(5, 429, "Too Many Requests: retry after 3", retry_after=3)
    api.fail_next(None, 500, "Internal Server Error", times=2)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(5, "one")
    assert raised.value.retry_after == dtm.timedelta(seconds=3)
    for chat_id in (6, 5):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(chat_id, "two")
    await bot.get_me()  # other methods are not affected by default
    await bot.send_message(5, "three")
    api.fail_next(None, 502, "Bad Gateway", method="getMe")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_me()
    assert [m.text for m in api.sent] == ["three"]
    assert api.rate_limited == 0


# -- flood limits -----------------------------------------------------------------------------


async def test_one_message_a_second_to_a_private_chat(
    limited_api: FakeBotApi, limited_bot: Bot
) -> None:
    await limited_bot.send_message(42, "first")
    with pytest.raises(RetryAfter) as raised:
        await limited_bot.send_message(42, "second")
    assert raised.value.retry_after == dtm.timedelta(seconds=1)
    await limited_bot.send_message(43, "another chat is fine")
    assert limited_api.rate_limited == 1
    assert [m.text for m in limited_api.sent] == ["first", "another chat is fine"]


async def test_twenty_messages_a_minute_to_a_group(
    limited_api: FakeBotApi, limited_bot: Bot
) -> None:
    for i in range(20):
        await limited_bot.send_message(-500, f"message {i}")
    with pytest.raises(RetryAfter) as raised:
        await limited_bot.send_message(-500, "the 21st")
    assert raised.value.retry_after in {dtm.timedelta(seconds=59), dtm.timedelta(seconds=60)}
    assert limited_api.rate_limited == 1
    assert len(limited_api.sent) == 20


async def test_thirty_messages_a_second_overall(limited_api: FakeBotApi, limited_bot: Bot) -> None:
    started = time.monotonic()
    for chat_id in range(1, 31):
        await limited_bot.send_message(chat_id, "alert")
    with pytest.raises(RetryAfter) as raised:
        await limited_bot.send_message(31, "alert")
    assert time.monotonic() - started < 1, "too slow to test a one-second window"
    assert raised.value.retry_after == dtm.timedelta(seconds=1)
    assert limited_api.rate_limited == 1
    assert len(limited_api.sent) == 30


async def test_aioratelimiter_waits_out_a_private_chat_429(limited_api: FakeBotApi) -> None:
    """AIORateLimiter limits 30/s overall and 20/min per group, but not 1/s per private chat:
    the second message to one person gets a 429, and only max_retries saves it."""
    limiter = AIORateLimiter(max_retries=1)
    async with ExtBot(
        limited_api.token, base_url=limited_api.base_url, rate_limiter=limiter
    ) as ext_bot:
        await ext_bot.send_message(42, "first")
        await ext_bot.send_message(42, "second")
    first, second = limited_api.sent
    assert limited_api.rate_limited == 1
    assert second.at - first.at >= 1.0


# -- updates ------------------------------------------------------------------------------------


async def test_get_updates_long_polls_and_confirms_by_offset(api: FakeBotApi, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.monotonic()
    update_id = api.push_message(42, "/start abc123", first_name="Anna", username="anna")
    updates = await poll
    assert time.monotonic() - started < 1
    (update,) = updates
    assert update.update_id == update_id
    assert update.message is not None
    assert update.message.text == "/start abc123"
    assert update.message.from_user is not None
    assert update.message.from_user.id == 42
    assert update.message.chat.type == "private"
    assert update.message.parse_entities() == {update.message.entities[0]: "/start"}
    # Not confirmed yet: served again.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [update_id]
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == ()
    assert api.pending_updates == []


async def test_get_updates_timeout_limit_and_negative_offset(api: FakeBotApi, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=dtm.timedelta(milliseconds=300)) == ()
    assert 0.25 <= time.monotonic() - started < 2
    ids = [api.push_message(-100, f"message {i}", chat_type="group") for i in range(3)]
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[2:]
    assert len(api.pending_updates) == 1


async def test_webhook_and_get_updates_conflict(api: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="an https url must be provided"):
        await bot.set_webhook("http://example.org/hook")
    assert await bot.set_webhook("https://example.org/hook", secret_token="s3cret")
    assert api.webhook_url == "https://example.org/hook"
    api.push_message(1, "hi")
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == ("https://example.org/hook", 1)
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert api.webhook_url is None
    assert await bot.get_updates() == ()


async def test_a_second_poller_terminates_the_first(api: FakeBotApi, bot: Bot) -> None:
    # One Bot cannot poll twice at once: getUpdates has a connection pool of its own, of one.
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    async with Bot(api.token, base_url=api.base_url) as second_bot:
        assert await second_bot.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


# -- chats, members, commands -------------------------------------------------------------------


async def test_group_admins_and_members(api: FakeBotApi, bot: Bot) -> None:
    api.set_admins(-500, [7, 8], owner=1)
    api.push_message(-500, "/digest@notifier_test_bot", user_id=9, chat_type="group")
    assert (await bot.get_chat_member(-500, 7)).status == "administrator"
    assert (await bot.get_chat_member(-500, 1)).status == "creator"
    assert (await bot.get_chat_member(-500, 9)).status == "member"
    assert (await bot.get_chat_member(-500, 10)).status == "left"
    admins = await bot.get_chat_administrators(-500)
    assert [(m.user.id, m.status) for m in admins] == [
        (1, "creator"),
        (7, "administrator"),
        (8, "administrator"),
    ]
    chat = await bot.get_chat(-500)
    assert (chat.type, chat.title) == ("group", "Test group -500")
    private = await bot.get_chat(42)
    assert private.type == "private"
    assert (await bot.get_chat_member(42, 42)).status == "member"
    with pytest.raises(BadRequest, match="no administrators in the private chat"):
        await bot.get_chat_administrators(42)


async def test_commands_and_chat_actions(api: FakeBotApi, bot: Bot) -> None:
    commands = [BotCommand("start", "Subscribe"), BotCommand("stop", "Unsubscribe")]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands([BotCommand("start", "Abonnieren")], language_code="de")
    assert await bot.get_my_commands() == tuple(commands)
    assert [c.description for c in await bot.get_my_commands(language_code="de")] == ["Abonnieren"]
    assert api.commands() == [
        {"command": "start", "description": "Subscribe"},
        {"command": "stop", "description": "Unsubscribe"},
    ]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "capital letters are not allowed")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.send_chat_action(42, ChatAction.TYPING)


async def test_edit_message_text(api: FakeBotApi, bot: Bot) -> None:
    message = await bot.send_message(42, "<b>Draft</b>", parse_mode="HTML")
    edited = await bot.edit_message_text(
        "<b>Final</b>", chat_id=42, message_id=message.message_id, parse_mode="HTML"
    )
    assert not isinstance(edited, bool)
    assert edited.text == "Final"
    assert edited.edit_date is not None
    assert [(e.message_id, e.text) for e in api.edits] == [(1, "<b>Final</b>")]
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("<b>Final</b>", chat_id=42, message_id=1, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=99)


# -- a whole Application --------------------------------------------------------------------


async def test_application_polling_answers_start_and_buttons(api: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Weekly", callback_data="w")]])
        await context.bot.send_message(
            update.effective_chat.id,
            f"Welcome! Code: <code>{' '.join(context.args or [])}</code>",
            parse_mode="HTML",
            reply_markup=keyboard,
        )

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Saved")
        await query.edit_message_text(f"Cadence: {query.data}")

    app = (
        Application.builder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(button))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=5))
        await app.start()
        try:
            api.push_message(42, "/start abc123")
            (reply,) = await api.wait_sent(1)
            api.push_callback(42, "w")
            for _ in range(100):
                if api.edits:
                    break
                await asyncio.sleep(0.02)
        finally:
            await app.updater.stop()
            await app.stop()
    assert (reply.chat_id, reply.text) == (42, "Welcome! Code: <code>abc123</code>")
    assert reply.reply_markup == {"inline_keyboard": [[{"text": "Weekly", "callback_data": "w"}]]}
    assert [(a.text, a.show_alert) for a in api.answered_callbacks] == [("Saved", False)]
    assert [(e.message_id, e.text) for e in api.edits] == [(reply.message_id, "Cadence: w")]
    assert api.pending_updates == []  # the updater confirmed what it handled
    methods = [method for method, _ in api.calls]
    assert methods[:2] == ["getMe", "deleteWebhook"]
