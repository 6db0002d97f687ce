"""The answers of the /new dialogue: starting and cancelling it, the package, the name, the username
(typed, the suggestion, or a bot Telegram creates for the customer), the description and the picture.
Each refusal names its reason; each accepted answer moves on (see `prompts`)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ManagedBotUpdated, Message, User

from bot import keyboards, texts
from bot.callbacks import MenuCb, OrderCb, PackageCb
from bot.filters import NOT_COMMAND
from bot.states import OrderForm
from config import Settings
from handlers.customer.order.prompts import ask_next, ask_package, enter_summary, managed_mode
from models import Customer
from services.orders.ordering import (
    TooManyUnpaid,
    attach_managed_bot,
    ensure_can_order,
    username_refusal,
)
from services.orders.validation import (
    Checked,
    validate_avatar,
    validate_description,
    validate_display_name,
    validate_username,
)
from services.payments.packages import Package, find_package


async def _refuse(message: Message, checked: Checked) -> None:
    await message.answer(texts.refused(checked))


# --- entry ---------------------------------------------------------------------------------------


async def _start_order(message: Message, state: FSMContext, settings: Settings, customer: Customer) -> None:
    await state.clear()
    try:
        await ensure_can_order(customer, settings.max_unpaid_orders)
    except TooManyUnpaid as exc:  # said before the dialogue, not after five questions
        await message.answer(texts.TOO_MANY_UNPAID.format(count=exc.count))
        return
    await ask_package(message, state, settings)


async def new_order(message: Message, state: FSMContext, settings: Settings, customer: Customer) -> None:
    await _start_order(message, state, settings, customer)


async def new_order_button(
    callback: CallbackQuery, state: FSMContext, settings: Settings, customer: Customer
) -> None:
    await callback.answer()
    await _start_order(callback.message, state, settings, customer)


async def cancel_button(callback: CallbackQuery, state: FSMContext) -> None:
    await callback.answer()
    had_state = await state.get_state() is not None
    await state.clear()
    await callback.message.edit_reply_markup(reply_markup=None)
    await callback.message.answer(
        texts.CANCELLED if had_state else texts.NOTHING_TO_CANCEL,
        reply_markup=keyboards.remove_reply_keyboard(),
    )


# --- package ---------------------------------------------------------------------------------------


async def package_chosen(
    callback: CallbackQuery, callback_data: PackageCb, state: FSMContext, settings: Settings
) -> None:
    package: Package | None = find_package(settings.packages, callback_data.code)
    if package is None:
        await callback.answer(texts.PACKAGE_GONE, show_alert=True)
        return
    await callback.answer(texts.package_title(package))
    await state.update_data(package=package.code)
    await ask_next(callback.message, state, settings, "package", edit=True)


async def package_typed(message: Message, settings: Settings) -> None:
    await message.answer(texts.ASK_PACKAGE, reply_markup=keyboards.packages(settings.packages))


# --- name ----------------------------------------------------------------------------------------------


async def name_typed(message: Message, state: FSMContext, settings: Settings) -> None:
    checked = validate_display_name(message.text)
    if not checked.ok:
        await _refuse(message, checked)
        return
    await state.update_data(bot_name=checked.value)
    await ask_next(message, state, settings, "name")


# --- username --------------------------------------------------------------------------------------


async def _take_away_managed_button(message: Message, settings: Settings, username: str) -> None:
    """In managed mode, once a username is chosen, say so on a new message that removes the "create my
    bot with Telegram" reply keyboard (only a new message can); left there, it could create a stray bot."""
    if managed_mode(settings):
        await message.answer(
            texts.USERNAME_CHOSEN.format(username=texts.esc(username)),
            reply_markup=keyboards.remove_reply_keyboard(),
        )


async def username_typed(message: Message, state: FSMContext, settings: Settings) -> None:
    checked = validate_username(message.text)
    if checked.ok:
        checked = await username_refusal(checked.value, (await state.get_data()).get("order_id")) or checked
    if not checked.ok:
        await _refuse(message, checked)
        return
    await state.update_data(bot_username=checked.value, creation_mode="pool", managed_bot_id=None)
    await _take_away_managed_button(message, settings, checked.value)
    await ask_next(message, state, settings, "username")


async def suggestion_taken(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    data = await state.get_data()
    checked = validate_username(data.get("suggestion"))
    if checked.ok:
        checked = await username_refusal(checked.value, data.get("order_id")) or checked
    if not checked.ok:
        await callback.answer(texts.reason(checked), show_alert=True)
        return
    await callback.answer(f"@{checked.value}")
    await state.update_data(bot_username=checked.value, creation_mode="pool", managed_bot_id=None)
    managed = managed_mode(settings)
    if managed:  # the next question comes after the note below: the pressed message only loses its button
        await callback.message.edit_reply_markup(reply_markup=None)
    await _take_away_managed_button(callback.message, settings, checked.value)
    await ask_next(callback.message, state, settings, "username", edit=not managed)


async def _accept_managed_bot(
    bot: Bot,
    owner: User,
    bot_user: User,
    state: FSMContext | None,
    settings: Settings,
    message: Message | None,
) -> None:
    username = bot_user.username or ""
    if state is not None and await state.get_state() == OrderForm.username.state:
        data = await state.get_data()
        if data.get("managed_bot_id") == bot_user.id:
            return  # the update and the service message both announce the same bot
        await state.update_data(bot_username=username, creation_mode="managed", managed_bot_id=bot_user.id)
        await bot.send_message(
            owner.id,
            texts.MANAGED_ATTACHED.format(username=texts.esc(username)),
            reply_markup=keyboards.remove_reply_keyboard(),
        )
        if message is not None:
            await ask_next(message, state, settings, "username")
        else:  # the update carries no chat message to answer: write to the owner's private chat
            await bot.send_message(
                owner.id, await enter_summary(state, settings), reply_markup=keyboards.confirm()
            )
        return
    if state is not None and (await state.get_data()).get("managed_bot_id") == bot_user.id:
        return
    order = await attach_managed_bot(owner.id, bot_user.id, username)
    if order is not None:
        await bot.send_message(owner.id, texts.MANAGED_ATTACHED.format(username=texts.esc(username)))


async def managed_bot_created(message: Message, bot: Bot, state: FSMContext, settings: Settings) -> None:
    created = message.managed_bot_created
    if message.from_user is None or created is None:
        return
    await _accept_managed_bot(bot, message.from_user, created.bot_user, state, settings, message)


async def managed_bot_update(
    update: ManagedBotUpdated, bot: Bot, settings: Settings, state: FSMContext | None = None
) -> None:
    await _accept_managed_bot(bot, update.user, update.bot_user, state, settings, None)


# --- description -------------------------------------------------------------------------------------


async def description_typed(message: Message, state: FSMContext, settings: Settings) -> None:
    checked = validate_description(message.text)
    if not checked.ok:
        await _refuse(message, checked)
        return
    await state.update_data(description=checked.value)
    await ask_next(message, state, settings, "description")


async def description_skipped(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    await callback.answer()
    await state.update_data(description="")
    await ask_next(callback.message, state, settings, "description", edit=True)


# --- avatar ----------------------------------------------------------------------------------------


async def avatar_sent(message: Message, state: FSMContext, settings: Settings) -> None:
    photo = max(message.photo or [], key=lambda p: p.width * p.height)
    checked = validate_avatar(photo.width, photo.height, photo.file_size)
    if not checked.ok:
        await _refuse(message, checked)
        return
    await state.update_data(avatar_file_id=photo.file_id)
    await ask_next(message, state, settings, "avatar")


async def avatar_skipped(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    await callback.answer()
    await state.update_data(avatar_file_id=None)
    await ask_next(callback.message, state, settings, "avatar", edit=True)


async def avatar_not_photo(message: Message) -> None:
    await message.answer(texts.NEED_PHOTO, reply_markup=keyboards.skip())


async def not_text(message: Message) -> None:
    await message.answer(texts.NEED_TEXT)


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="customer.order.dialogue")
    message, callback = router.message, router.callback_query
    message.register(new_order, Command("new"))
    callback.register(new_order_button, MenuCb.filter(F.action == "new"))
    callback.register(cancel_button, OrderCb.filter(F.action == "cancel"), StateFilter("*"))
    callback.register(package_chosen, PackageCb.filter(), StateFilter(OrderForm.package))
    message.register(package_typed, StateFilter(OrderForm.package), NOT_COMMAND)
    message.register(name_typed, StateFilter(OrderForm.name), F.text, NOT_COMMAND)
    message.register(username_typed, StateFilter(OrderForm.username), F.text, NOT_COMMAND)
    callback.register(
        suggestion_taken, OrderCb.filter(F.action == "suggest"), StateFilter(OrderForm.username)
    )
    message.register(managed_bot_created, F.managed_bot_created)
    router.managed_bot.register(managed_bot_update)
    message.register(description_typed, StateFilter(OrderForm.description), F.text, NOT_COMMAND)
    skip = OrderCb.filter(F.action == "skip")
    callback.register(description_skipped, skip, StateFilter(OrderForm.description))
    message.register(avatar_sent, StateFilter(OrderForm.avatar), F.photo)
    callback.register(avatar_skipped, skip, StateFilter(OrderForm.avatar))
    message.register(avatar_not_photo, StateFilter(OrderForm.avatar), NOT_COMMAND)
    message.register(
        not_text, StateFilter(OrderForm.name, OrderForm.username, OrderForm.description), ~F.text
    )
    return router
