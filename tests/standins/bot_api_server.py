"""A minimal Telegram Bot API stand-in for instance care: a real aiohttp server on 127.0.0.1.

Reached through TELEGRAM_API_SERVER by the real aiogram client (`services.accounts.bot_api.BotApi`). It
answers `deleteWebhook`, `getMe`, and for managed bots `getManagedBotToken` (from `managed_tokens`)
and `setManagedBotAccessSettings`, and records every call as (token, method, params).

    async with BotApiStandIn() as api:
        bot_api = api.client()
        ...
        assert api.calls_of("deleteWebhook")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.factory import bots_for_tokens
from config import Settings
from services.accounts.bot_api import BotApi


@dataclass
class BotApiCall:
    token: str
    method: str
    params: dict[str, Any]


@dataclass
class BotApiStandIn:
    calls: list[BotApiCall] = field(default_factory=list)
    managed_tokens: dict[int, str] = field(default_factory=dict)  # managed bot user id -> its token
    base_url: str = ""
    _runner: web.AppRunner | None = None

    def client(self) -> BotApi:
        """The application's Bot API client, its bots made as the composition root makes them."""
        return BotApi(bots_for_tokens(Settings(_env_file=None, telegram_api_server=self.base_url)))

    async def start(self) -> BotApiStandIn:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def calls_of(self, method: str) -> list[BotApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        self.calls.append(BotApiCall(token, method, params))
        if method == "deleteWebhook":
            return web.json_response(
                {"ok": True, "result": True, "description": "Webhook is already deleted"}
            )
        if method == "getMe":
            bot_id = int(token.split(":", 1)[0])
            return web.json_response(
                {
                    "ok": True,
                    "result": {
                        "id": bot_id,
                        "is_bot": True,
                        "first_name": "Agent",
                        "username": f"agent{bot_id}_bot",
                    },
                }
            )
        if method == "getManagedBotToken":
            token_of = self.managed_tokens.get(int(params.get("user_id", 0)))
            if token_of is None:
                return web.json_response(
                    {"ok": False, "error_code": 400, "description": "Bad Request: bot not found"}, status=400
                )
            return web.json_response({"ok": True, "result": token_of})
        if method == "setManagedBotAccessSettings":
            return web.json_response({"ok": True, "result": True})
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
