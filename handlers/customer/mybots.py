"""/mybots and /renew: the customer's agents, their status and expiry, and paying another term."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot import keyboards, texts
from bot.callbacks import AgentCb, MenuCb, MyBotsCb, RenewCb
from bot.texts import agent as agent_texts
from config import Settings
from handlers.customer.order.checkout import send_checkout
from models import Customer, Instance, InstanceStatus, Order, OrderStatus
from services.jobs.queue import utcnow
from services.model_gateway.usage_report import MonthUse, month_use
from services.orders.ordering import RENEWABLE, OrderError, TooManyUnpaid, create_renewal, renewable_instances
from services.payments.packages import find_package
from services.payments.stripe_api import PaymentsService
from services.provisioning.progress import open_deep_link

HIDDEN = (InstanceStatus.WARM, InstanceStatus.TERMINATED)
PAGE_SIZE = 5
OPEN_ORDERS = (
    OrderStatus.AWAITING_PAYMENT,
    OrderStatus.PAID,
    OrderStatus.NEEDS_REVIEW,
    OrderStatus.PROVISIONING,
    OrderStatus.AWAITING_VERIFICATION,
)


Row = tuple[str, str | None, str | None]  # a button: label, url, callback data


async def _agent_entry(instance: Instance, use: MonthUse | None, page: int) -> tuple[str, list[Row]]:
    # the progress message may be long gone: /mybots offers the open ownership check again
    _, link = await open_deep_link(instance.order_id) if instance.order_id else (None, None)
    block = texts.my_bot(instance, awaiting_verification=link is not None) + texts.model_use_line(use)
    rows: list[Row] = []
    username = instance.bot_username
    if username:
        rows.append(
            (texts.open_bot_button(username, verify=bool(link)), link or f"https://t.me/{username}", None)
        )
    if instance.status in RENEWABLE:
        rows.append((texts.renew_button(instance), None, RenewCb(instance_id=instance.id).pack()))
    if username and not link:  # restart, persona, payments: on the agent's own page
        show = AgentCb(action="show", instance_id=instance.id, page=page).pack()
        rows.append((agent_texts.btn_manage(username), None, show))
    return block, rows


def _order_entry(order: Order) -> tuple[str, list[Row]]:
    rows: list[Row] = []
    if order.status == OrderStatus.AWAITING_PAYMENT and order.checkout_url:
        rows.append((texts.pay_order_button(order), order.checkout_url, None))
    return texts.my_open_order(order), rows


async def my_bots_page(customer: Customer, page: int, settings: Settings) -> tuple[str, InlineKeyboardMarkup]:
    """/mybots as ONE message however many agents and orders: a page of them, with their buttons
    and Previous/Next, and each agent's model use this month against its plan."""
    instances = await Instance.filter(customer=customer).exclude(status__in=HIDDEN).order_by("id")
    with_instance = {i.order_id for i in instances if i.order_id}
    orders = [
        o
        for o in await Order.filter(customer=customer, status__in=OPEN_ORDERS, renews_id=None).order_by("id")
        if o.id not in with_instance
    ]
    items: list[Instance | Order] = [*instances, *orders]
    if not items:
        return texts.NO_BOTS, keyboards.main_menu()
    pages = -(-len(items) // PAGE_SIZE)
    page = max(0, min(page, pages - 1))  # a forged or stale page number lands on a real page
    shown = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    uses = await month_use([i for i in shown if isinstance(i, Instance)], utcnow(), settings.packages)
    blocks, rows = [], []
    for item in shown:
        block, buttons = (
            await _agent_entry(item, uses.get(item.id), page)
            if isinstance(item, Instance)
            else _order_entry(item)
        )
        blocks.append(block)
        rows += buttons
    header = texts.my_bots_header(len(items), page, pages)
    return "\n\n".join([header, *blocks]), keyboards.my_bots_page(rows, page, pages)


async def show_my_bots(message: Message, customer: Customer, settings: Settings) -> None:
    text, markup = await my_bots_page(customer, 0, settings)
    await message.answer(text, reply_markup=markup)


async def my_bots(message: Message, customer: Customer, settings: Settings) -> None:
    await show_my_bots(message, customer, settings)


async def my_bots_button(callback: CallbackQuery, customer: Customer, settings: Settings) -> None:
    await callback.answer()
    await show_my_bots(callback.message, customer, settings)


async def my_bots_paged(
    callback: CallbackQuery, callback_data: MyBotsCb, customer: Customer, settings: Settings
) -> None:
    await callback.answer()
    text, markup = await my_bots_page(customer, callback_data.page, settings)
    await callback.message.edit_text(text, reply_markup=markup)


async def renew_instance(
    message: Message,
    customer: Customer,
    instance_id: int,
    settings: Settings,
    payments: PaymentsService | None,
) -> None:
    """Checkout for another term of one of the customer's agents (refused, with the reason, otherwise)."""
    try:
        order = await create_renewal(
            customer, instance_id, settings.packages, max_unpaid=settings.max_unpaid_orders
        )
    except TooManyUnpaid as exc:
        await message.answer(texts.TOO_MANY_UNPAID.format(count=exc.count))
        return
    except OrderError as exc:
        await message.answer(texts.order_error(exc.problem, exc.params))
        return
    instance = await Instance.get(id=instance_id)
    await send_checkout(
        message, order, payments, find_package(settings.packages, order.package), renewal_of=instance
    )


async def renew(
    message: Message, customer: Customer, settings: Settings, payments: PaymentsService | None = None
) -> None:
    instances = await renewable_instances(customer)
    if not instances:
        await message.answer(texts.NO_RENEWABLE)
    elif len(instances) == 1:
        await renew_instance(message, customer, instances[0].id, settings, payments)
    else:
        await message.answer(texts.CHOOSE_RENEW, reply_markup=keyboards.renew(instances))


async def renew_chosen(
    callback: CallbackQuery,
    callback_data: RenewCb,
    customer: Customer,
    settings: Settings,
    payments: PaymentsService | None = None,
) -> None:
    await callback.answer(texts.CREATING_CHECKOUT)
    await renew_instance(callback.message, customer, callback_data.instance_id, settings, payments)


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="customer.mybots")
    router.message.register(my_bots, Command("mybots"))
    router.callback_query.register(my_bots_button, MenuCb.filter(F.action == "mybots"))
    router.callback_query.register(my_bots_paged, MyBotsCb.filter())
    router.message.register(renew, Command("renew"))
    router.callback_query.register(renew_chosen, RenewCb.filter())
    return router
