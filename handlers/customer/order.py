"""/new: the order dialogue. package → name → username → summary → pay (description and picture:
optional, from the summary's Edit).

Each step validates with a specific reason. From the summary, Edit jumps back to one step and
returns to the summary afterwards. With BOT_CREATION_MODE managed/auto the username step also offers
Telegram's "create a managed bot" button; the `managed_bot` update and the `managed_bot_created`
message attach that bot to the dialogue (or to an order already confirmed).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ManagedBotUpdated, Message, User

from bot import keyboards, texts
from bot.callbacks import EditCb, MenuCb, OrderCb, PackageCb
from bot.states import OrderForm
from config import BotCreationMode, Settings
from models import Customer, Order
from services.orders.ordering import (
    OrderDraft,
    OrderError,
    TooManyUnpaid,
    attach_managed_bot,
    ensure_can_order,
    save_draft,
    taken_usernames,
    username_refusal,
)
from services.orders.validation import (
    Checked,
    suggest_username,
    username_stem,
    validate_avatar,
    validate_description,
    validate_display_name,
    validate_username,
)
from services.payments.packages import Package, find_package

log = logging.getLogger(__name__)

CHECKOUT_TIMEOUT = 20.0  # seconds the customer waits for Stripe before we say "try again"
NOT_COMMAND = ~F.text.startswith("/")


def _managed(settings: Settings) -> bool:
    return settings.bot_creation_mode in (BotCreationMode.MANAGED, BotCreationMode.AUTO)


async def _say(message: Message, text: str, markup: Any, *, edit: bool) -> None:
    """After a button press, turn the bot's own message into the next prompt (one call, no stale
    buttons); after a typed answer, send the prompt as a new message."""
    if edit:
        await message.edit_text(text, reply_markup=markup)
    else:
        await message.answer(text, reply_markup=markup)


async def _ask_package(
    message: Message, state: FSMContext, settings: Settings, *, edit: bool = False
) -> None:
    await state.set_state(OrderForm.package)
    await _say(message, texts.ASK_PACKAGE, keyboards.packages(settings.packages), edit=edit)


async def _ask_name(message: Message, state: FSMContext, settings: Settings, *, edit: bool = False) -> None:
    await state.set_state(OrderForm.name)
    await _say(message, texts.ASK_NAME, keyboards.cancel_only(), edit=edit)


async def _ask_username(
    message: Message, state: FSMContext, settings: Settings, *, edit: bool = False
) -> None:
    data = await state.get_data()
    name = str(data.get("bot_name", ""))
    suggestion = suggest_username(name, await taken_usernames(username_stem(name)))
    await state.update_data(suggestion=suggestion)
    await state.set_state(OrderForm.username)
    text = texts.ASK_USERNAME.format(suggestion=texts.esc(suggestion))
    if _managed(settings):
        # Telegram's "create a bot" button lives on a reply keyboard: that needs a new message
        if edit:
            await message.edit_reply_markup(reply_markup=None)
        text += texts.ASK_USERNAME_MANAGED.format(button=texts.esc(texts.BTN_MANAGED))
        await message.answer(
            text, reply_markup=keyboards.managed_bot_request(str(data.get("bot_name", "")), suggestion)
        )
        await message.answer(
            texts.USE_SUGGESTION.format(suggestion=texts.esc(suggestion)) + "?",
            reply_markup=keyboards.suggestion(suggestion),
        )
        return
    await _say(message, text, keyboards.suggestion(suggestion), edit=edit)


async def _ask_description(
    message: Message, state: FSMContext, settings: Settings, *, edit: bool = False
) -> None:
    await state.set_state(OrderForm.description)
    await _say(message, texts.ASK_DESCRIPTION, keyboards.skip(), edit=edit)


async def _ask_avatar(message: Message, state: FSMContext, settings: Settings, *, edit: bool = False) -> None:
    await state.set_state(OrderForm.avatar)
    await _say(message, texts.ASK_AVATAR, keyboards.skip(), edit=edit)


async def _show_summary(
    message: Message, state: FSMContext, settings: Settings, *, edit: bool = False
) -> None:
    data = await state.get_data()
    await state.update_data(editing=False)
    await state.set_state(OrderForm.confirm)
    package = find_package(settings.packages, str(data.get("package")))
    await _say(message, texts.summary(data, package), keyboards.confirm(), edit=edit)


# the shortest way to pay: package, name, username, then the summary. A description and a picture
# are optional (✏️ Edit in the summary); the agent's persona is set after go-live, in /mybots
STEP_AFTER = {
    "package": _ask_name,
    "name": _ask_username,
    "username": _show_summary,
    "description": _show_summary,
    "avatar": _show_summary,
}
ASK = {
    "package": _ask_package,
    "name": _ask_name,
    "username": _ask_username,
    "description": _ask_description,
    "avatar": _ask_avatar,
}


async def _next(
    message: Message, state: FSMContext, settings: Settings, after: str, *, edit: bool = False
) -> None:
    """Go to the step after `after`, or back to the summary when the customer is editing."""
    editing = (await state.get_data()).get("editing")
    step = _show_summary if editing else STEP_AFTER[after]
    await step(message, state, settings, edit=edit)


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
    await _ask_package(message, state, settings)


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
    await _next(callback.message, state, settings, "package", edit=True)


async def package_typed(message: Message, settings: Settings) -> None:
    await message.answer(texts.ASK_PACKAGE, reply_markup=keyboards.packages(settings.packages))


# --- name ----------------------------------------------------------------------------------------------


async def name_typed(message: Message, state: FSMContext, settings: Settings) -> None:
    checked = validate_display_name(message.text)
    if not checked.ok:
        await _refuse(message, checked)
        return
    await state.update_data(bot_name=checked.value)
    await _next(message, state, settings, "name")


# --- username --------------------------------------------------------------------------------------


async def username_typed(message: Message, state: FSMContext, settings: Settings) -> None:
    checked = validate_username(message.text)
    if checked.ok:
        checked = await username_refusal(checked.value, (await state.get_data()).get("order_id")) or checked
    if not checked.ok:
        await _refuse(message, checked)
        return
    await state.update_data(bot_username=checked.value, creation_mode="pool", managed_bot_id=None)
    if _managed(settings):  # take away the "create my bot with Telegram" reply keyboard
        await message.answer(
            texts.USERNAME_CHOSEN.format(username=texts.esc(checked.value)),
            reply_markup=keyboards.remove_reply_keyboard(),
        )
    await _next(message, state, settings, "username")


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
    await _next(callback.message, state, settings, "username", edit=True)


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
            await _next(message, state, settings, "username")
        else:  # the update carries no chat message to answer: write to the owner's private chat
            data = await state.get_data()
            await state.update_data(editing=False)
            await state.set_state(OrderForm.confirm)
            package = find_package(settings.packages, str(data.get("package")))
            await bot.send_message(
                owner.id,
                texts.summary({**data, "bot_username": username}, package),
                reply_markup=keyboards.confirm(),
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
    await _next(message, state, settings, "description")


async def description_skipped(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    await callback.answer()
    await state.update_data(description="")
    await _next(callback.message, state, settings, "description", edit=True)


# --- avatar ----------------------------------------------------------------------------------------


async def avatar_sent(message: Message, state: FSMContext, settings: Settings) -> None:
    photo = max(message.photo or [], key=lambda p: p.width * p.height)
    checked = validate_avatar(photo.width, photo.height, photo.file_size)
    if not checked.ok:
        await _refuse(message, checked)
        return
    await state.update_data(avatar_file_id=photo.file_id)
    await _next(message, state, settings, "avatar")


async def avatar_skipped(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    await callback.answer()
    await state.update_data(avatar_file_id=None)
    await _next(callback.message, state, settings, "avatar", edit=True)


async def avatar_not_photo(message: Message) -> None:
    await message.answer(texts.NEED_PHOTO, reply_markup=keyboards.skip())


async def not_text(message: Message) -> None:
    await message.answer(texts.NEED_TEXT)


# --- summary: confirm / edit -----------------------------------------------------------------------


async def edit_chosen(callback: CallbackQuery, state: FSMContext) -> None:
    await callback.answer()
    managed = (await state.get_data()).get("creation_mode") == "managed"
    await callback.message.edit_text(texts.choose_edit(), reply_markup=keyboards.edit_fields(managed))


async def back_to_summary(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    await callback.answer()
    await _show_summary(callback.message, state, settings, edit=True)


# a forged field (the data is the client's to send) falls through to the "step is over" answer
async def edit_field(
    callback: CallbackQuery, callback_data: EditCb, state: FSMContext, settings: Settings
) -> None:
    await callback.answer()
    await state.update_data(editing=True)
    await ASK[callback_data.field](callback.message, state, settings, edit=True)


async def confirm(
    callback: CallbackQuery, state: FSMContext, settings: Settings, customer: Customer, payments: Any = None
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
    message: Message, order: Order, payments: Any, package: Package | None, renewal_of: Any
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
    router = Router(name="customer.order")
    router.message.register(new_order, Command("new"))
    router.callback_query.register(new_order_button, MenuCb.filter(F.action == "new"))
    router.callback_query.register(cancel_button, OrderCb.filter(F.action == "cancel"), StateFilter("*"))
    router.callback_query.register(package_chosen, PackageCb.filter(), StateFilter(OrderForm.package))
    router.message.register(package_typed, StateFilter(OrderForm.package), NOT_COMMAND)
    router.message.register(name_typed, StateFilter(OrderForm.name), F.text, NOT_COMMAND)
    router.message.register(username_typed, StateFilter(OrderForm.username), F.text, NOT_COMMAND)
    router.callback_query.register(
        suggestion_taken, OrderCb.filter(F.action == "suggest"), StateFilter(OrderForm.username)
    )
    router.message.register(managed_bot_created, F.managed_bot_created)
    router.managed_bot.register(managed_bot_update)
    router.message.register(description_typed, StateFilter(OrderForm.description), F.text, NOT_COMMAND)
    router.callback_query.register(
        description_skipped, OrderCb.filter(F.action == "skip"), StateFilter(OrderForm.description)
    )
    router.message.register(avatar_sent, StateFilter(OrderForm.avatar), F.photo)
    router.callback_query.register(
        avatar_skipped, OrderCb.filter(F.action == "skip"), StateFilter(OrderForm.avatar)
    )
    router.message.register(avatar_not_photo, StateFilter(OrderForm.avatar), NOT_COMMAND)
    router.message.register(
        not_text, StateFilter(OrderForm.name, OrderForm.username, OrderForm.description), ~F.text
    )
    router.callback_query.register(
        edit_chosen, OrderCb.filter(F.action == "edit"), StateFilter(OrderForm.confirm)
    )
    router.callback_query.register(
        back_to_summary, OrderCb.filter(F.action == "back"), StateFilter(OrderForm.confirm)
    )
    router.callback_query.register(
        edit_field, EditCb.filter(F.field.in_(set(ASK))), StateFilter(OrderForm.confirm)
    )
    router.callback_query.register(
        confirm, OrderCb.filter(F.action == "confirm"), StateFilter(OrderForm.confirm)
    )
    return router
