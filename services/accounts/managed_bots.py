"""The token of a customer's managed bot (BOT_CREATION_MODE managed/auto, Bot API 9.6).

Telegram creates the bot, owned by the customer and managed by the Meet Matt bot; the `managed_bot`
update attaches it to the order (services.orders.ordering.attach_managed_bot), possibly after the provision
job loaded the order. So the job reads the attachment again from the database before giving up.
"""

from __future__ import annotations

from models import Order
from services.accounts.bot_api import BotApi
from services.jobs.worker import PermanentError
from services.orders.ordering import managed_bot_of
from services.provisioning.bot_making import CreatedBot


class ManagedBotTokens:
    """`SagaDeps.managed_bot_token`: the order's managed bot, its token, and access for its owner only."""

    def __init__(self, bot_api: BotApi, manager_token: str) -> None:
        self.bot_api = bot_api
        self.manager_token = manager_token

    async def __call__(self, order: Order) -> CreatedBot:
        if not order.managed_bot_id:
            ref = await managed_bot_of(order.id)
            if ref is None:
                raise PermanentError(f"order {order.id} has no managed bot attached")
            order.managed_bot_id, order.bot_username = ref.bot_id, ref.bot_username
        token = await self.bot_api.managed_bot_token(self.manager_token, order.managed_bot_id)
        await self.bot_api.restrict_managed_bot(self.manager_token, order.managed_bot_id)
        return CreatedBot(order.bot_username or "", token, None)
