"""`BotMaker` for the creator-account pool: customer bots made by a Telegram user account talking to
@BotFather over Telethon (services.accounts.pool)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from models import Order
from services.accounts.account_status import AccountUnavailable, PoolExhausted
from services.accounts.botfather import UsernamesExhausted
from services.accounts.created_bot import CreatedBot
from services.accounts.pool import AccountPool
from services.jobs.worker import PermanentError
from services.orders.ordering import usernames_held_elsewhere
from services.provisioning.bot_making import UsernameCallback, username_candidates
from services.provisioning.pool_wait import PoolWait

log = logging.getLogger("meetmatt.runtime")

AvatarLoader = Callable[[str], Awaitable[bytes | None]]  # Telegram file id -> the image, None if gone


class PoolBotMaker:
    """Customer bots from the creator-account pool (@BotFather over Telethon)."""

    def __init__(
        self,
        pool: AccountPool,
        avatar_loader: AvatarLoader | None = None,
        about: str = "A personal AI agent by Meet Matt",
    ) -> None:
        self.pool = pool
        self.avatar_loader = avatar_loader
        self.about = about

    async def _free_candidates(self, order: Order) -> list[str]:
        """The usernames to try: the customer's choice and variants, minus those other orders hold."""
        candidates = username_candidates(order.bot_username, order.id)
        held = await usernames_held_elsewhere(candidates, order.id)
        free = [c for c in candidates if c.lower() not in held]
        return free or username_candidates(None, order.id)

    async def create(
        self, order: Order, on_username_chosen: UsernameCallback, on_created: UsernameCallback
    ) -> CreatedBot:
        candidates = await self._free_candidates(order)
        photo = None
        if order.avatar_file_id and self.avatar_loader is not None:
            try:
                photo = await self.avatar_loader(order.avatar_file_id)
            except Exception:  # the avatar is cosmetic: the bot is still made without it
                log.warning("avatar download failed", extra={"order_id": order.id})
        try:
            return await self.pool.create_bot(
                name=order.bot_name,
                username_candidates=candidates,
                description=order.description,
                about=self.about,
                photo=photo,
                on_username_chosen=on_username_chosen,
                on_created=on_created,
            )
        except PoolExhausted as exc:
            raise PoolWait(exc.retry_at) from None
        except UsernamesExhausted as exc:
            raise PermanentError(f"no free bot username: {exc}") from None

    async def recover(self, account_id: int, username: str) -> str | None:
        try:
            return await self.pool.recover_token(account_id, username)
        except AccountUnavailable as exc:
            if exc.retry_at is not None:
                raise PoolWait(exc.retry_at) from None
            log.warning(
                "the account that made the bot is gone; making a new bot",
                extra={"account_id": account_id, "username": username},
            )
            return None

    async def owns(self, account_id: int, username: str) -> bool:
        try:
            return username.lower() in await self.pool.owned_bots(account_id)
        except AccountUnavailable as exc:
            if exc.retry_at is not None:
                raise PoolWait(exc.retry_at) from None
            return False

    async def delete(self, account_id: int | None, username: str) -> bool:
        if account_id is None:
            return False
        return await self.pool.delete_bot(account_id, username)
