"""FSM states of the bot's dialogues: the order (/new), a support question, and an agent owner's
persona and profile (description or photo) edits."""

from aiogram.fsm.state import State, StatesGroup


class OrderForm(StatesGroup):
    package = State()
    name = State()
    username = State()
    description = State()
    avatar = State()
    confirm = State()


class SupportForm(StatesGroup):
    question = State()


class PersonaForm(StatesGroup):
    text = State()


class ProfileForm(StatesGroup):
    value = State()  # the bot's new description (text) or photo, after go-live
