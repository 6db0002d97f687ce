"""/orders: recent orders, filtered by status; /approve and /refund settle a payment held for review."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import OrderListCb
from config import Settings
from handlers.admin.audit import actor_of, echo
from models import Order, OrderStatus
from services.jobs.queue import JobQueue
from services.operations import orders as operations
from services.operations.audit import OperationError

LIMIT = 20
REFUND_REASON = "refunded by an admin"


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
    await _settle(message, command, "approve", bot, settings, queue)


async def refund(
    message: Message, command: CommandObject, bot: Bot, settings: Settings, queue: JobQueue
) -> None:
    await _settle(message, command, "refund", bot, settings, queue)


async def _settle(
    message: Message, command: CommandObject, verb: str, bot: Bot, settings: Settings, queue: JobQueue
) -> None:
    """/approve N and /refund N: the two ways out of a held payment, told back in the bot's words."""
    order_id = _order_id(command)
    if order_id is None:
        await message.answer(texts.ADMIN_ORDER_ID_NEEDED.format(command=verb))
        return
    actor = actor_of(message.from_user)
    try:
        if verb == "approve":
            done = await operations.approve(
                queue, order_id, actor, max_attempts=settings.provision_max_attempts
            )
            reply = texts.ADMIN_APPROVED.format(id=order_id)
        else:
            done = await operations.refund(queue, order_id, actor, reason=REFUND_REASON)
            reply = texts.ADMIN_REFUND_QUEUED.format(id=order_id)
    except OperationError as exc:
        await message.answer(texts.esc(str(exc)))
        return
    await echo(bot, settings, done.audit, message.from_user)
    await message.answer(reply)


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="admin.orders")
    router.message.register(list_orders, Command("orders"))
    router.callback_query.register(filter_orders, OrderListCb.filter())
    router.message.register(approve, Command("approve"))
    router.message.register(refund, Command("refund"))
    return router
