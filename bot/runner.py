"""Start and stop the Meet Matt bot inside a running event loop: polling, or a webhook on the web app.

    runtime = await start_bot(settings, app, bot=root.bot, dispatcher=dispatcher(root))
    # (before the aiohttp app starts; `root` and `dispatcher` are the composition root's, cli/root.py)
    ...
    await runtime.stop()

- TELEGRAM_MODE=polling (default): the webhook is deleted and `Dispatcher.start_polling` runs as a
  task; `app` may be None.
- TELEGRAM_MODE=webhook: `app` is required. The bot is served at `/webhooks/telegram` on that app by
  aiogram's `SimpleRequestHandler` with a secret token, and `PUBLIC_BASE_URL/webhooks/telegram` is
  registered with Telegram when the app starts. The secret is TELEGRAM_WEBHOOK_SECRET, or derived from
  BOT_TOKEN (SHA-256) so replicas agree without another setting.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.factory import BotConfigError, set_commands
from config import Settings, TelegramMode

log = logging.getLogger(__name__)

TELEGRAM_WEBHOOK_PATH = "/webhooks/telegram"


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram sends in X-Telegram-Bot-Api-Secret-Token (1-256 of [A-Za-z0-9_-])."""
    if settings.telegram_webhook_secret and settings.telegram_webhook_secret.get_secret_value():
        return settings.telegram_webhook_secret.get_secret_value()
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    if not token:
        raise BotConfigError("BOT_TOKEN is not set: cannot derive the webhook secret")
    return hashlib.sha256(f"meetmatt-telegram-webhook:{token}".encode()).hexdigest()


def webhook_url(settings: Settings) -> str:
    if not settings.public_base_url:
        raise BotConfigError("PUBLIC_BASE_URL is not set: Telegram cannot reach the webhook")
    return settings.public_base_url.rstrip("/") + TELEGRAM_WEBHOOK_PATH


@dataclass
class BotRuntime:
    """A started bot: its Bot, Dispatcher, and the polling task (None in webhook mode). The Bot's
    session and the Stripe client belong to the composition root (cli/root.py), which closes them."""

    bot: Bot
    dispatcher: Dispatcher
    polling: asyncio.Task[None] | None = None
    _stopped: bool = field(default=False, repr=False)

    async def stop(self) -> None:
        """Stop polling (if any). Safe twice."""
        if self._stopped:
            return
        self._stopped = True
        if self.polling is not None and not self.polling.done():
            try:
                await self.dispatcher.stop_polling()
            except RuntimeError:  # polling had not started yet
                self.polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.polling, timeout=15)


async def start_bot(
    settings: Settings,
    app: web.Application | None,
    *,
    bot: Bot,
    dispatcher: Dispatcher,
) -> BotRuntime:
    """Start the bot in TELEGRAM_MODE. In webhook mode call it BEFORE `app` starts (routes freeze)."""
    me = await bot.me()  # proves the token works (the root may have asked already: answered once)
    dp = dispatcher
    try:
        await set_commands(bot, settings)
    except Exception as exc:  # menus are a nicety: never block the bot on them
        log.warning("bot: set_my_commands failed: %s", type(exc).__name__)
    runtime = BotRuntime(bot=bot, dispatcher=dp)
    # the many long-lived objects built at start-up (aiogram's and pydantic's models) leave the
    # collector's scans: shorter GC pauses under load (bench/bot_load.py)
    gc.freeze()
    if settings.telegram_mode == TelegramMode.WEBHOOK:
        if app is None:
            raise BotConfigError("TELEGRAM_MODE=webhook needs the web application to serve the webhook")
        url, secret = webhook_url(settings), webhook_secret(settings)
        SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(
            app, path=TELEGRAM_WEBHOOK_PATH
        )
        setup_application(app, dp, bot=bot)

        async def register_webhook(bot: Bot) -> None:
            await bot.set_webhook(
                url,
                secret_token=secret,
                allowed_updates=dp.resolve_used_update_types(),
                drop_pending_updates=False,
            )
            log.info("bot: webhook registered at %s as @%s", url, me.username)

        dp.startup.register(register_webhook)
        return runtime
    await bot.delete_webhook(drop_pending_updates=False)
    runtime.polling = asyncio.create_task(
        dp.start_polling(
            bot, handle_signals=False, close_bot_session=False, allowed_updates=dp.resolve_used_update_types()
        ),
        name="meetmatt-bot-polling",
    )
    log.info("bot: polling as @%s", me.username)
    return runtime
