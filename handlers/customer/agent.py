"""One agent's page in /mybots (the same message, edited): health, persona, payments, and the
owner's buttons Restart, Persona, Profile (the bot's description and photo) and Renew. Every press
checks the agent is the presser's own."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import AgentCb
from bot.filters import NOT_COMMAND
from bot.states import PersonaForm, ProfileForm
from bot.texts import agent as agent_texts
from config import Settings
from models import Customer, Instance
from services.agents import controls as agent_controls
from services.agents import profile as bot_profile
from services.jobs.queue import JobQueue, utcnow
from services.model_gateway.usage_report import month_use
from services.orders.ordering import RENEWABLE
from services.orders.validation import validate_avatar, validate_description, validate_persona


async def agent_page(instance: Instance, page: int, settings: Settings) -> tuple[str, object]:
    line = await agent_controls.health_line(instance)
    orders = await agent_controls.payments_of(instance)
    use = (await month_use([instance], utcnow(), settings.packages)).get(instance.id)
    return (
        agent_texts.agent_page(instance, line, orders) + texts.model_use_line(use),
        keyboards.agent_page(instance, page=page, renewable=instance.status in RENEWABLE),
    )


async def _own_agent(callback: CallbackQuery, customer: Customer, instance_id: int) -> Instance | None:
    """The customer's own agent, or None after telling them it is not theirs (a forged or stale button)."""
    instance = await agent_controls.owned_instance(customer, instance_id)
    if instance is None:
        await callback.answer(
            agent_texts.restart_answer(agent_controls.RestartOutcome.NOT_FOUND), show_alert=True
        )
    return instance


async def show_agent(
    callback: CallbackQuery, callback_data: AgentCb, customer: Customer, settings: Settings
) -> None:
    instance = await _own_agent(callback, customer, callback_data.instance_id)
    if instance is None:
        return
    await callback.answer()
    text, markup = await agent_page(instance, callback_data.page, settings)
    await callback.message.edit_text(text, reply_markup=markup)


async def restart_agent(
    callback: CallbackQuery, callback_data: AgentCb, customer: Customer, queue: JobQueue, settings: Settings
) -> None:
    outcome = await agent_controls.request_restart(queue, customer, callback_data.instance_id)
    await callback.answer(
        agent_texts.restart_answer(outcome), show_alert=outcome != agent_controls.RestartOutcome.QUEUED
    )
    if outcome == agent_controls.RestartOutcome.NOT_FOUND:
        return
    instance = await agent_controls.owned_instance(customer, callback_data.instance_id)
    if instance is not None:  # the health line now says "restarting"
        text, markup = await agent_page(instance, callback_data.page, settings)
        await callback.message.edit_text(text, reply_markup=markup)


# owner buttons that ask for a value: the state awaiting it, the key keeping the agent's id, the question
QUESTIONS: dict[str, tuple[State, str, Callable[[Instance], str]]] = {
    "persona": (PersonaForm.text, "persona_instance_id", agent_texts.ask_persona),
    "profile": (ProfileForm.value, "profile_instance_id", agent_texts.ask_profile),
}


async def ask_for_value(
    callback: CallbackQuery, callback_data: AgentCb, customer: Customer, state: FSMContext
) -> None:
    """Persona or Profile: ask for the new value and remember which agent it is for."""
    instance = await _own_agent(callback, customer, callback_data.instance_id)
    if instance is None:
        return
    awaiting, key, question = QUESTIONS[callback_data.action]
    await callback.answer()
    await state.set_state(awaiting)
    await state.update_data({key: instance.id})
    await callback.message.answer(question(instance))


async def persona_typed(message: Message, state: FSMContext, customer: Customer, queue: JobQueue) -> None:
    name, prompt = validate_persona(message.text)
    refused = name if not name.ok else prompt if not prompt.ok else None
    if refused is not None:
        await message.answer(texts.refused(refused))  # the state stays: they can send it again
        return
    instance_id = (await state.get_data()).get("persona_instance_id")
    instance = await agent_controls.owned_instance(customer, int(instance_id or 0))
    await state.clear()
    if instance is None:
        await message.answer(agent_texts.restart_answer(agent_controls.RestartOutcome.NOT_FOUND))
        return
    pushed = await agent_controls.save_persona(queue, instance, name.value, prompt.value)
    await message.answer(agent_texts.persona_saved(name.value, pushed))


async def persona_not_text(message: Message) -> None:
    await message.answer(agent_texts.persona_as_text())


# --- the bot's profile (description, photo) after go-live ----------------------------------------


async def _request_profile(
    message: Message, state: FSMContext, customer: Customer, queue: JobQueue, **change: str
) -> None:
    instance_id = int((await state.get_data()).get("profile_instance_id") or 0)
    await state.clear()
    outcome = await bot_profile.request_profile(queue, customer, instance_id, **change)
    await message.answer(agent_texts.profile_answer(outcome))


async def profile_photo(message: Message, state: FSMContext, customer: Customer, queue: JobQueue) -> None:
    photo = max(message.photo or [], key=lambda p: p.width * p.height)
    checked = validate_avatar(photo.width, photo.height, photo.file_size)
    if not checked.ok:
        await message.answer(texts.refused(checked))  # the state stays: they can send another
        return
    await _request_profile(message, state, customer, queue, photo_file_id=photo.file_id)


async def profile_description(
    message: Message, state: FSMContext, customer: Customer, queue: JobQueue
) -> None:
    checked = validate_description(message.text)
    if not checked.ok:
        await message.answer(texts.refused(checked))
        return
    if not checked.value:
        await message.answer(agent_texts.profile_empty())
        return
    await _request_profile(message, state, customer, queue, description=checked.value)


async def profile_neither(message: Message) -> None:
    await message.answer(agent_texts.profile_empty())


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="customer.agent")
    router.callback_query.register(show_agent, AgentCb.filter(F.action == "show"))
    router.callback_query.register(restart_agent, AgentCb.filter(F.action == "restart"))
    router.callback_query.register(ask_for_value, AgentCb.filter(F.action.in_(set(QUESTIONS))))
    router.message.register(persona_typed, StateFilter(PersonaForm.text), F.text, NOT_COMMAND)
    router.message.register(persona_not_text, StateFilter(PersonaForm.text), ~F.text)
    router.message.register(profile_photo, StateFilter(ProfileForm.value), F.photo)
    router.message.register(profile_description, StateFilter(ProfileForm.value), F.text, NOT_COMMAND)
    router.message.register(profile_neither, StateFilter(ProfileForm.value), ~F.text, ~F.photo)
    return router
