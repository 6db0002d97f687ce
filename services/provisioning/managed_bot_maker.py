"""`BotMaker` for managed bots (BOT_CREATION_MODE managed/auto, Bot API 9.6): Telegram creates the
bot, owned by the customer and managed by the Meet Matt bot; the `managed_bot` update attaches it to
the order (services.orders.ordering.attach_managed_bot), possibly after the provision job loaded the
order. So the job reads the attachment again from the database before giving up.
"""

from __future__ import annotations

from models import Order
from services.accounts.bot_api import BotApi
from services.accounts.created_bot import CreatedBot
from services.jobs.worker import PermanentError
from services.orders.ordering import managed_bot_of
from services.provisioning.bot_making import UsernameCallback


class ManagedBotMaker:
    """The order's managed bot, its token, and access for its owner only. The bot is the customer's:
    nothing to recover from a creator account, and never deleted by Meet Matt."""

    def __init__(self, bot_api: BotApi, manager_token: str) -> None:
        self.bot_api = bot_api
        self.manager_token = manager_token

    async def create(
        self,
        order: Order,
        on_username_chosen: UsernameCallback | None = None,
        on_created: UsernameCallback | None = None,
    ) -> CreatedBot:
        # the customer chose the username in Telegram; no creator account is involved
        if not order.managed_bot_id:
            ref = await managed_bot_of(order.id)
            if ref is None:
                raise PermanentError(f"order {order.id} has no managed bot attached")
            order.managed_bot_id, order.bot_username = ref.bot_id, ref.bot_username
        token = await self.bot_api.managed_bot_token(self.manager_token, order.managed_bot_id)
        await self.bot_api.restrict_managed_bot(self.manager_token, order.managed_bot_id)
        return CreatedBot(order.bot_username or "", token, None)

    async def recover(self, account_id: int, username: str) -> str | None:
        return None

    async def owns(self, account_id: int, username: str) -> bool:
        return False

    async def delete(self, account_id: int | None, username: str) -> bool:
        return False
