"""/start, /help and /cancel: greeting, packages, and leaving any step."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import MenuCb
from config import Settings
from models import Customer
from services.model_gateway.quota import RENEW_START_PREFIX
from services.payments.stripe_api import START_CANCEL_PREFIX, START_PAID_PREFIX, PaymentsService


async def start(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    settings: Settings,
    customer: Customer,
    payments: PaymentsService | None = None,
) -> None:
    # a payload is a return from Stripe or a plain referral: both get the welcome (verification
    # happens on the customer's own new bot, never here); `renew-<id>` is the over-quota message's button
    payload = command.args or ""
    if payload.startswith(RENEW_START_PREFIX) and payload[len(RENEW_START_PREFIX) :].isdigit():
        from handlers.customer.mybots import renew_instance

        await state.clear()
        await renew_instance(message, customer, int(payload[len(RENEW_START_PREFIX) :]), settings, payments)
        return
    if payload.startswith(START_PAID_PREFIX):
        await message.answer(texts.PAID_RETURN)
        return
    if payload.startswith(START_CANCEL_PREFIX):
        await message.answer(texts.CANCEL_RETURN)
        return
    await state.clear()
    first_name = message.from_user.first_name if message.from_user else None
    await message.answer(texts.welcome(first_name, settings.packages), reply_markup=keyboards.main_menu())


async def help_command(message: Message) -> None:
    await message.answer(texts.HELP)


async def help_button(callback: CallbackQuery) -> None:
    await callback.answer()
    await callback.message.answer(texts.HELP)


async def cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is None:
        await message.answer(texts.NOTHING_TO_CANCEL)
        return
    await state.clear()
    await message.answer(texts.CANCELLED, reply_markup=keyboards.remove_reply_keyboard())


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="customer.start")
    router.message.register(start, CommandStart())
    router.message.register(help_command, Command("help"))
    router.callback_query.register(help_button, MenuCb.filter(F.action == "help"))
    router.message.register(cancel, Command("cancel"), StateFilter("*"))
    return router
