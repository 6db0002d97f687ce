"""/new: the order dialogue. package → name → username → summary → pay (description and picture:
optional, from the summary's Edit).

Each step validates with a specific reason. From the summary, Edit jumps back to one step and
returns to the summary afterwards. With BOT_CREATION_MODE managed/auto the username step also offers
Telegram's "create a managed bot" button; the `managed_bot` update and the `managed_bot_created`
message attach that bot to the dialogue (or to an order already confirmed).

- `prompts`: the questions, in order, and which comes after each answer
- `dialogue`: the answers to them, and the managed bot Telegram creates
- `checkout`: the summary's Edit and Confirm, and the Pay button (renewals use it too)
"""

from __future__ import annotations

from aiogram import Router

from handlers.customer.order import checkout, dialogue


def build_router() -> Router:
    """The dialogue's handlers, then the summary's (their filters do not overlap), on fresh Routers."""
    router = Router(name="customer.order")
    router.include_routers(dialogue.build_router(), checkout.build_router())
    return router
