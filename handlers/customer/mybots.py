"""/mybots and /renew: the customer's agents, their status and expiry, and paying another term."""

from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import MenuCb, RenewCb
from bot.routing import RouterTemplate
from config import Settings
from handlers.customer.order import send_checkout
from models import Customer, Instance, InstanceStatus, Order, OrderStatus
from services.jobs import utcnow
from services.model_usage_report import month_use
from services.orders import RENEWABLE, OrderError, create_renewal, renewable_instances
from services.packages import find_package
from services.progress import open_deep_link

router = RouterTemplate("customer.mybots")

HIDDEN = (InstanceStatus.WARM, InstanceStatus.TERMINATED)
OPEN_ORDERS = (
    OrderStatus.AWAITING_PAYMENT,
    OrderStatus.PAID,
    OrderStatus.PROVISIONING,
    OrderStatus.AWAITING_VERIFICATION,
)


async def show_my_bots(message: Message, customer: Customer, settings: Settings) -> None:
    instances = await Instance.filter(customer=customer).exclude(status__in=HIDDEN).order_by("id")
    uses = await month_use(instances, utcnow(), settings.packages)
    with_instance = {i.order_id for i in instances if i.order_id}
    orders = [
        o
        for o in await Order.filter(customer=customer, status__in=OPEN_ORDERS, renews_id=None).order_by("id")
        if o.id not in with_instance
    ]
    if not instances and not orders:
        await message.answer(texts.NO_BOTS, reply_markup=keyboards.main_menu())
        return
    for instance in instances:
        # the progress message may be long gone: /mybots offers the open ownership check again
        _, link = await open_deep_link(instance.order_id) if instance.order_id else (None, None)
        await message.answer(
            texts.my_bot(instance, awaiting_verification=link is not None)
            + texts.model_use_line(uses.get(instance.id)),
            reply_markup=keyboards.open_bot(instance, instance.status in RENEWABLE, link),
        )
    for order in orders:
        pay = None
        if order.status == OrderStatus.AWAITING_PAYMENT and order.checkout_url:
            pay = keyboards.pay(order.checkout_url, f"{order.amount / 100:.2f} {order.currency.upper()}")
        await message.answer(texts.my_open_order(order), reply_markup=pay)


@router.message(Command("mybots"))
async def my_bots(message: Message, customer: Customer, settings: Settings) -> None:
    await show_my_bots(message, customer, settings)


@router.callback_query(MenuCb.filter(F.action == "mybots"))
async def my_bots_button(callback: CallbackQuery, customer: Customer, settings: Settings) -> None:
    await callback.answer()
    await show_my_bots(callback.message, customer, settings)


async def renew_instance(
    message: Message, customer: Customer, instance_id: int, settings: Settings, payments: Any
) -> None:
    """Checkout for another term of one of the customer's agents (refused, with the reason, otherwise)."""
    try:
        order = await create_renewal(customer, instance_id, settings.packages)
    except OrderError as exc:
        await message.answer(texts.esc(exc))
        return
    instance = await Instance.get(id=instance_id)
    await send_checkout(
        message, order, payments, find_package(settings.packages, order.package), renewal_of=instance
    )


@router.message(Command("renew"))
async def renew(message: Message, customer: Customer, settings: Settings, payments: Any = None) -> None:
    instances = await renewable_instances(customer)
    if not instances:
        await message.answer(texts.NO_RENEWABLE)
    elif len(instances) == 1:
        await renew_instance(message, customer, instances[0].id, settings, payments)
    else:
        await message.answer(texts.CHOOSE_RENEW, reply_markup=keyboards.renew(instances))


@router.callback_query(RenewCb.filter())
async def renew_chosen(
    callback: CallbackQuery,
    callback_data: RenewCb,
    customer: Customer,
    settings: Settings,
    payments: Any = None,
) -> None:
    await callback.answer(texts.CREATING_CHECKOUT)
    await renew_instance(callback.message, customer, callback_data.instance_id, settings, payments)
