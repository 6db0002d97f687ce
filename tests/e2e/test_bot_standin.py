"""The launcher really fixes telegram-test-api's known gaps (DESIGN section 9), over HTTP."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
from aiohttp import web

from tests.bot.harness import runtime_token
from tests.e2e.bot_fixtures import telegram_api  # noqa: F401
from tests.standins.telegram import TelegramTestApi, TelegramTestUser


async def call(api: TelegramTestApi, token: str, method: str, **params: object) -> tuple[int, dict]:
    form = {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in params.items()}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{api.base_url}/bot{token}/{method}", data=form) as response,
    ):
        return response.status, await response.json()


async def test_get_me_is_a_bot_with_the_token_id(telegram_api: TelegramTestApi) -> None:  # noqa: F811
    token = runtime_token()
    status, body = await call(telegram_api, token, "getMe")
    assert status == 200 and body["result"]["is_bot"] is True
    assert body["result"]["id"] == int(token.split(":")[0])


async def test_unknown_methods_answer_like_telegram(telegram_api: TelegramTestApi) -> None:  # noqa: F811
    status, body = await call(telegram_api, runtime_token(), "sendDice")
    assert status == 404 and body["ok"] is False and body["error_code"] == 404


async def test_get_updates_honours_offset_and_long_polls(telegram_api: TelegramTestApi) -> None:  # noqa: F811
    token = runtime_token()
    user = TelegramTestUser(telegram_api.base_url, token, user_id=830_001)
    try:
        await user.send("one")
        await user.send("two")
        _, first = await call(telegram_api, token, "getUpdates")
        ids = [u["update_id"] for u in first["result"]]
        assert [u["message"]["text"] for u in first["result"]] == ["one", "two"]
        _, again = await call(telegram_api, token, "getUpdates")  # not confirmed yet: delivered again
        assert [u["update_id"] for u in again["result"]] == ids
        _, confirmed = await call(telegram_api, token, "getUpdates", offset=ids[-1] + 1)
        assert confirmed["result"] == []
        started = time.monotonic()
        poll = asyncio.create_task(call(telegram_api, token, "getUpdates", offset=ids[-1] + 1, timeout=5))
        await asyncio.sleep(0.2)
        await user.send("three")
        _, late = await poll
        assert [u["message"]["text"] for u in late["result"]] == ["three"]
        assert time.monotonic() - started < 4  # answered when the update came, not at the timeout
    finally:
        await user.close()


async def test_callbacks_carry_chat_instance(telegram_api: TelegramTestApi) -> None:  # noqa: F811
    token = runtime_token()
    user = TelegramTestUser(telegram_api.base_url, token, user_id=830_002)
    try:
        await user.press_data("x:1", 7)
        _, body = await call(telegram_api, token, "getUpdates")
        query = body["result"][0]["callback_query"]
        assert query["chat_instance"] == "830002" and query["message"]["message_id"] == 7
    finally:
        await user.close()


async def test_webhooks_send_the_secret_token_header(telegram_api: TelegramTestApi) -> None:  # noqa: F811
    token = runtime_token()
    received: asyncio.Queue[tuple[str | None, dict]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await received.put((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    user = TelegramTestUser(telegram_api.base_url, token, user_id=830_003)
    try:
        status, body = await call(
            telegram_api,
            token,
            "setWebhook",
            url=f"http://127.0.0.1:{port}/hook",
            secret_token="s3cret-Token_1",
        )
        assert status == 200 and body["result"] is True
        await user.send("hello")
        secret, update = await asyncio.wait_for(received.get(), timeout=5)
        assert secret == "s3cret-Token_1" and update["message"]["text"] == "hello"
        _, info = await call(telegram_api, token, "getWebhookInfo")
        assert info["result"]["url"].endswith("/hook")
    finally:
        await call(telegram_api, token, "deleteWebhook")
        await user.close()
        await runner.cleanup()


async def test_edits_replace_the_keyboard_and_refuse_no_change(telegram_api: TelegramTestApi) -> None:  # noqa: F811
    token = runtime_token()
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    _, sent = await call(telegram_api, token, "sendMessage", chat_id=830_004, text="hi", reply_markup=markup)
    message_id = sent["result"]["message_id"]
    assert sent["result"]["reply_markup"] == markup and "parse_mode" not in sent["result"]
    status, edited = await call(
        telegram_api, token, "editMessageText", chat_id=830_004, message_id=message_id, text="edited"
    )
    assert status == 200 and edited["result"]["text"] == "edited" and "reply_markup" not in edited["result"]
    status, same = await call(
        telegram_api, token, "editMessageText", chat_id=830_004, message_id=message_id, text="edited"
    )
    assert status == 400 and "message is not modified" in same["description"]
    status, gone = await call(
        telegram_api, token, "editMessageText", chat_id=830_004, message_id=999_999, text="x"
    )
    assert status == 400 and "message to edit not found" in gone["description"]
