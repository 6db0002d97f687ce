"""Routers of the Meet Matt bot. `get_routers(settings)` gives them in the order they must be tried:
admin first (guarded by the admin filter, so non-admins fall through and get nothing admin), then the
customer features, then the fallback.

Each feature module's `build_router()` registers its handlers on a new plain aiogram Router: aiogram
attaches a router to one parent only, and tests, the bench and `main.py run` build several Dispatchers
in one process."""

from __future__ import annotations

from aiogram import Router

from bot.filters import IsAdmin
from config import Settings
from handlers.admin import accounts, instances, orders, stats, support
from handlers.customer import agent, fallback, language, mybots, order, start
from handlers.customer import support as customer_support


def get_routers(settings: Settings) -> list[Router]:
    """Fresh routers for one Dispatcher."""
    admin = Router(name="admin")
    is_admin = IsAdmin(settings.admin_id_set, settings.admin_telegram_chat_id)
    admin.message.filter(is_admin)
    admin.callback_query.filter(is_admin)
    admin.include_routers(*(m.build_router() for m in (support, accounts, instances, orders, stats)))
    customer = [m.build_router() for m in (start, order, mybots, agent, customer_support, language, fallback)]
    return [admin, *customer]
