"""The questions of the /new dialogue, in order, and which one comes after each answer (or the summary,
when the customer is editing one field from it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardMarkup, Message

from bot import keyboards, texts
from bot.states import OrderForm
from config import BotCreationMode, Settings
from services.orders.ordering import taken_usernames
from services.orders.validation import suggest_username, username_stem
from services.payments.packages import find_package

Ask = Callable[..., Awaitable[None]]


def managed_mode(settings: Settings) -> bool:
    """Whether the username step also offers Telegram's "create my bot" button."""
    return settings.bot_creation_mode in (BotCreationMode.MANAGED, BotCreationMode.AUTO)


async def _say(message: Message, text: str, markup: InlineKeyboardMarkup, *, edit: bool) -> None:
    """After a button press, turn the bot's own message into the next prompt (one call, no stale
    buttons); after a typed answer, send the prompt as a new message."""
    if edit:
        await message.edit_text(text, reply_markup=markup)
    else:
        await message.answer(text, reply_markup=markup)


async def ask_package(message: Message, state: FSMContext, settings: Settings, *, edit: bool = False) -> None:
    await state.set_state(OrderForm.package)
    await _say(message, texts.ASK_PACKAGE, keyboards.packages(settings.packages), edit=edit)


async def ask_name(message: Message, state: FSMContext, settings: Settings, *, edit: bool = False) -> None:
    await state.set_state(OrderForm.name)
    await _say(message, texts.ASK_NAME, keyboards.cancel_only(), edit=edit)


async def ask_username(
    message: Message, state: FSMContext, settings: Settings, *, edit: bool = False
) -> None:
    data = await state.get_data()
    name = str(data.get("bot_name", ""))
    suggestion = suggest_username(name, await taken_usernames(username_stem(name)))
    await state.update_data(suggestion=suggestion)
    await state.set_state(OrderForm.username)
    text = texts.ASK_USERNAME.format(suggestion=texts.esc(suggestion))
    if managed_mode(settings):
        # Telegram's "create a bot" button lives on a reply keyboard: that needs a new message
        if edit:
            await message.edit_reply_markup(reply_markup=None)
        text += texts.ASK_USERNAME_MANAGED.format(button=texts.esc(texts.BTN_MANAGED))
        await message.answer(text, reply_markup=keyboards.managed_bot_request(name, suggestion))
        await message.answer(
            texts.suggestion_question(suggestion), reply_markup=keyboards.suggestion(suggestion)
        )
        return
    await _say(message, text, keyboards.suggestion(suggestion), edit=edit)


async def ask_description(
    message: Message, state: FSMContext, settings: Settings, *, edit: bool = False
) -> None:
    await state.set_state(OrderForm.description)
    await _say(message, texts.ASK_DESCRIPTION, keyboards.skip(), edit=edit)


async def ask_avatar(message: Message, state: FSMContext, settings: Settings, *, edit: bool = False) -> None:
    await state.set_state(OrderForm.avatar)
    await _say(message, texts.ASK_AVATAR, keyboards.skip(), edit=edit)


async def enter_summary(state: FSMContext, settings: Settings) -> str:
    """Move the dialogue to the summary (leaving any edit) and give the summary's text."""
    data = await state.get_data()
    await state.update_data(editing=False)
    await state.set_state(OrderForm.confirm)
    return texts.summary(data, find_package(settings.packages, str(data.get("package"))))


async def show_summary(
    message: Message, state: FSMContext, settings: Settings, *, edit: bool = False
) -> None:
    await _say(message, await enter_summary(state, settings), keyboards.confirm(), edit=edit)


# the shortest way to pay: package, name, username, then the summary. A description and a picture
# are optional (✏️ Edit in the summary); the agent's persona is set after go-live, in /mybots
STEP_AFTER: dict[str, Ask] = {
    "package": ask_name,
    "name": ask_username,
    "username": show_summary,
    "description": show_summary,
    "avatar": show_summary,
}
ASK: dict[str, Ask] = {
    "package": ask_package,
    "name": ask_name,
    "username": ask_username,
    "description": ask_description,
    "avatar": ask_avatar,
}


async def ask_next(
    message: Message, state: FSMContext, settings: Settings, after: str, *, edit: bool = False
) -> None:
    """Go to the step after `after`, or back to the summary when the customer is editing."""
    editing = (await state.get_data()).get("editing")
    step = show_summary if editing else STEP_AFTER[after]
    await step(message, state, settings, edit=edit)
