"""/orders: recent orders, filtered by status; /approve and /refund settle a payment held for review."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import OrderListCb
from config import Settings
from handlers.admin.audit import record_action
from models import Order, OrderStatus
from services.jobs.queue import JobQueue
from services.payments.review import ReviewError, approve_order, refund_order

LIMIT = 20


STATUSES = {s.value for s in OrderStatus}


async def _render(status: str) -> str:
    status = status if status in STATUSES else "all"
    query = Order.all() if status == "all" else Order.filter(status=status)
    orders = await query.order_by("-id").limit(LIMIT)
    if not orders:
        return texts.ADMIN_NO_ORDERS.format(
            status="" if status == "all" else f" with status {texts.esc(status)}"
        )
    return texts.admin_orders(orders, None if status == "all" else status)


async def list_orders(message: Message, command: CommandObject) -> None:
    wanted = (command.args or "all").strip().lower()
    status = wanted if wanted in STATUSES else "all"
    await message.answer(await _render(status), reply_markup=keyboards.order_filters(status))


async def filter_orders(callback: CallbackQuery, callback_data: OrderListCb) -> None:
    await callback.answer()
    await callback.message.edit_text(
        await _render(callback_data.status), reply_markup=keyboards.order_filters(callback_data.status)
    )


def _order_id(command: CommandObject) -> int | None:
    raw = (command.args or "").strip().lstrip("#")
    return int(raw) if raw.isdigit() and int(raw) < 2**31 else None


async def approve(
    message: Message, command: CommandObject, bot: Bot, settings: Settings, queue: JobQueue
) -> None:
    order_id = _order_id(command)
    if order_id is None:
        await message.answer(texts.ADMIN_ORDER_ID_NEEDED.format(command="approve"))
        return
    try:
        await approve_order(queue, order_id, max_attempts=settings.provision_max_attempts)
    except ReviewError as exc:
        await message.answer(texts.esc(str(exc)))
        return
    await record_action(bot, settings, message.from_user, "approve_order", f"order #{order_id}")
    await message.answer(texts.ADMIN_APPROVED.format(id=order_id))


async def refund(
    message: Message, command: CommandObject, bot: Bot, settings: Settings, queue: JobQueue
) -> None:
    order_id = _order_id(command)
    if order_id is None:
        await message.answer(texts.ADMIN_ORDER_ID_NEEDED.format(command="refund"))
        return
    try:
        job = await refund_order(queue, order_id, "refunded by an admin")
    except ReviewError as exc:
        await message.answer(texts.esc(str(exc)))
        return
    await record_action(
        bot, settings, message.from_user, "refund_order", f"order #{order_id}", f"job #{job.id}"
    )
    await message.answer(texts.ADMIN_REFUND_QUEUED.format(id=order_id))


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="admin.orders")
    router.message.register(list_orders, Command("orders"))
    router.callback_query.register(filter_orders, OrderListCb.filter())
    router.message.register(approve, Command("approve"))
    router.message.register(refund, Command("refund"))
    return router
