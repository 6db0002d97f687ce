"""The order's summary: Edit one field, Back, Confirm; then the Checkout Session and the Pay button
(`send_checkout` also serves renewals from /mybots)."""

from __future__ import annotations

import asyncio
import logging
import uuid

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import EditCb, OrderCb
from bot.states import OrderForm
from config import Settings
from handlers.customer.order.prompts import ASK, show_summary
from models import Customer, Instance, Order
from services.orders.ordering import OrderDraft, OrderError, TooManyUnpaid, save_draft
from services.payments.packages import Package, find_package
from services.payments.stripe_api import PaymentsService

log = logging.getLogger(__name__)

CHECKOUT_TIMEOUT = 20.0  # seconds the customer waits for Stripe before we say "try again"


async def edit_chosen(callback: CallbackQuery, state: FSMContext) -> None:
    await callback.answer()
    managed = (await state.get_data()).get("creation_mode") == "managed"
    await callback.message.edit_text(texts.choose_edit(), reply_markup=keyboards.edit_fields(managed))


async def back_to_summary(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    await callback.answer()
    await show_summary(callback.message, state, settings, edit=True)


async def edit_field(
    callback: CallbackQuery, callback_data: EditCb, state: FSMContext, settings: Settings
) -> None:
    await callback.answer()
    await state.update_data(editing=True)
    await ASK[callback_data.field](callback.message, state, settings, edit=True)


async def confirm(
    callback: CallbackQuery,
    state: FSMContext,
    settings: Settings,
    customer: Customer,
    payments: PaymentsService | None = None,
) -> None:
    await callback.answer(texts.CREATING_CHECKOUT)
    data = await state.get_data()
    try:
        draft = OrderDraft.from_state(data)
        order = await save_draft(
            customer, draft, settings.packages, data.get("order_id"), max_unpaid=settings.max_unpaid_orders
        )
    except TooManyUnpaid as exc:
        await state.clear()
        await callback.message.answer(texts.TOO_MANY_UNPAID.format(count=exc.count))
        return
    except OrderError as exc:
        await state.clear()
        await callback.message.answer(texts.order_error(exc.problem, exc.params))
        return
    except KeyError:
        await state.clear()
        await callback.message.answer(texts.ORDER_INCOMPLETE)
        return
    if data.get("order_id") != order.id:
        await state.update_data(order_id=order.id)  # a second tap reuses this order
    package = find_package(settings.packages, order.package)
    await send_checkout(callback.message, order, payments, package, renewal_of=None)
    if order.checkout_url:
        await state.clear()
        await callback.message.edit_reply_markup(reply_markup=None)


async def send_checkout(
    message: Message,
    order: Order,
    payments: PaymentsService | None,
    package: Package | None,
    renewal_of: Instance | None,
) -> None:
    """Create (or reuse) the order's Checkout Session within a timeout and send the Pay button."""
    try:
        if payments is None:
            raise RuntimeError("payments are not configured (STRIPE_SECRET_KEY)")
        link = await asyncio.wait_for(payments.create_checkout(order), timeout=CHECKOUT_TIMEOUT)
    except Exception as exc:  # Stripe down, timeout, misconfiguration: the order is kept
        reference = uuid.uuid4().hex[:10]
        log.warning(
            "checkout failed order=%s reference=%s error=%s",
            order.id,
            reference,
            f"{type(exc).__name__}: {exc}",
            extra={"reference": reference},
        )
        await message.answer(texts.CHECKOUT_FAILED.format(ref=reference, order_id=order.id))
        return
    order.checkout_url = link.url
    text = (
        texts.renewal_pay(order, renewal_of, package) if renewal_of is not None else texts.pay(order, package)
    )
    await message.answer(text, reply_markup=keyboards.pay(link.url, texts.price(package) if package else ""))


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="customer.order.checkout")
    in_summary = StateFilter(OrderForm.confirm)
    router.callback_query.register(edit_chosen, OrderCb.filter(F.action == "edit"), in_summary)
    router.callback_query.register(back_to_summary, OrderCb.filter(F.action == "back"), in_summary)
    # a forged field (the data is the client's to send) falls through to the "step is over" answer
    router.callback_query.register(edit_field, EditCb.filter(F.field.in_(set(ASK))), in_summary)
    router.callback_query.register(confirm, OrderCb.filter(F.action == "confirm"), in_summary)
    return router
