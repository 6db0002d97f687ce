"""/orders: recent orders, filtered by status."""

from __future__ import annotations

from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import OrderListCb
from bot.routing import RouterTemplate
from models import Order, OrderStatus

router = RouterTemplate("admin.orders")
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


@router.message(Command("orders"))
async def list_orders(message: Message, command: CommandObject) -> None:
    wanted = (command.args or "all").strip().lower()
    status = wanted if wanted in STATUSES else "all"
    await message.answer(await _render(status), reply_markup=keyboards.order_filters(status))


@router.callback_query(OrderListCb.filter())
async def filter_orders(callback: CallbackQuery, callback_data: OrderListCb) -> None:
    await callback.answer()
    await callback.message.edit_text(
        await _render(callback_data.status), reply_markup=keyboards.order_filters(callback_data.status)
    )
