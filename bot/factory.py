"""Build the Meet Matt Bot and Dispatcher.

    bot = create_bot(settings)
    dp = create_dispatcher(settings, get_routers(settings), payments=payments, queue=queue)

Every `Bot` of the process is made by `create_bot` (TELEGRAM_API_SERVER honoured in one place).
Services are handed to the Dispatcher as keyword arguments (aiogram's workflow data), so handlers
receive them by parameter name: `settings`, `payments`, `queue`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot import texts
from bot.i18n import DEFAULT_LOCALE, I18N, LANGUAGES, LocaleMiddleware
from bot.middlewares import CooldownMiddleware, CustomerMiddleware, ErrorBoundaryMiddleware
from config import Settings
from services.jobs.queue import JobQueue
from services.payments.stripe_api import PaymentsService

# pydantic caches generic models like `Response[Message]` in a WeakValueDictionary: aiogram builds one
# per API answer and drops it, so the schema is rebuilt again and again (~9 ms each, the biggest cost
# under load). Holding the types the bot uses keeps them cached for the life of the process.
_PINNED_RESPONSE_TYPES: list[type] = []


def _pin_response_types() -> None:
    if _PINNED_RESPONSE_TYPES:
        return
    from aiogram import methods
    from aiogram.methods import Response

    for name in (
        "SendMessage",
        "SendPhoto",
        "EditMessageText",
        "EditMessageReplyMarkup",
        "AnswerCallbackQuery",
        "SetMyCommands",
        "DeleteWebhook",
        "SetWebhook",
        "GetUpdates",
        "GetMe",
        "DeleteMessage",
        "GetManagedBotToken",
        "SetManagedBotAccessSettings",
    ):
        method = getattr(methods, name, None)
        if method is not None:
            _PINNED_RESPONSE_TYPES.append(Response[method.__returning__])  # type: ignore[name-defined]


class BotConfigError(RuntimeError):
    """The bot cannot start with these settings (the message names the setting)."""


def api_session(settings: Settings, timeout: float | None = None) -> AiohttpSession:
    """An HTTP session to the Bot API at TELEGRAM_API_SERVER (Telegram's own when unset)."""
    session = AiohttpSession()
    if settings.telegram_api_server:
        session.api = TelegramAPIServer.from_base(settings.telegram_api_server.rstrip("/"))
    if timeout is not None:
        session.timeout = timeout
    return session


def create_bot(
    settings: Settings, session: BaseSession | None = None, *, token: str | None = None, html: bool = True
) -> Bot:
    """THE place an aiogram `Bot` is made, TELEGRAM_API_SERVER honoured (through `api_session`).

    By default the Meet Matt bot (BOT_TOKEN): HTML parse mode, link previews off. With `token` any other
    bot the process talks as (the admin alert bot, customers' bots); `html=False` keeps Telegram's
    plain-text default for those.
    """
    token = (
        token if token is not None else (settings.bot_token.get_secret_value() if settings.bot_token else "")
    )
    if not token:
        raise BotConfigError("BOT_TOKEN is not set: the Meet Matt bot cannot start")
    _pin_response_types()
    default = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True) if html else None
    return Bot(token, session=session or api_session(settings), default=default)


def bots_for_tokens(settings: Settings, timeout: float = 30.0) -> Callable[[str], Bot]:
    """Plain-text Bots for any token, sharing one Bot API session (`BotApi`'s customers' bots)."""
    session = api_session(settings, timeout)
    return lambda token: create_bot(settings, session, token=token, html=False)


def make_storage(settings: Settings) -> tuple[BaseStorage, BaseEventIsolation]:
    """FSM storage: in memory by default, Redis when REDIS_URL is set (shared by bot replicas)."""
    if settings.redis_url:
        from aiogram.fsm.storage.base import DefaultKeyBuilder
        from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

        storage = RedisStorage.from_url(
            settings.redis_url, key_builder=DefaultKeyBuilder(prefix="meetmatt_fsm", with_bot_id=True)
        )
        return storage, RedisEventIsolation(storage.redis, key_builder=storage.key_builder)
    return MemoryStorage(), SimpleEventIsolation()


def create_dispatcher(
    settings: Settings,
    routers: Sequence[Router],
    *,
    queue: JobQueue,
    payments: PaymentsService | None = None,
    cooldown: float | None = None,
) -> Dispatcher:
    """The Dispatcher with middlewares, `routers` (`handlers.get_routers`: the caller above the
    handlers hands them in) and services.

    The clients (`settings`, `payments`, `queue`: the composition root's, cli/root.py) are workflow
    data: handlers receive them by parameter name. `payments` None: Confirm answers that payments are
    unavailable and keeps the order. `cooldown` overrides BOT_COOLDOWN_SECONDS.
    """
    storage, isolation = make_storage(settings)
    dp = Dispatcher(
        storage=storage,
        events_isolation=isolation,
        settings=settings,
        payments=payments,
        queue=queue,
    )
    dp.update.outer_middleware(ErrorBoundaryMiddleware())
    seconds = settings.bot_cooldown_seconds if cooldown is None else cooldown
    dp.update.outer_middleware(CooldownMiddleware(seconds))
    dp.update.outer_middleware(CustomerMiddleware())
    LocaleMiddleware().setup(dp)  # on every event type, inside the update-level ones above
    dp.include_routers(*routers)
    return dp


def _commands(names: dict[str, str]) -> list[BotCommand]:
    return [BotCommand(command=name, description=description) for name, description in names.items()]


async def set_commands(bot: Bot, settings: Settings) -> None:
    """Command menus: customer commands for everyone; admins (and the admin chat) also see admin ones."""
    chats = set(settings.admin_id_set)
    if settings.admin_telegram_chat_id is not None:
        chats.add(settings.admin_telegram_chat_id)
    for locale in LANGUAGES:
        # the default language's menu is everyone's fallback; others show to apps in that language
        language_code = None if locale == DEFAULT_LOCALE else locale
        with I18N.use_locale(locale):
            customer = _commands(texts.COMMANDS_CUSTOMER)
        admin = customer + _commands(texts.COMMANDS_ADMIN)
        await bot.set_my_commands(customer, scope=BotCommandScopeDefault(), language_code=language_code)
        for chat_id in sorted(chats):
            await bot.set_my_commands(
                admin, scope=BotCommandScopeChat(chat_id=chat_id), language_code=language_code
            )
