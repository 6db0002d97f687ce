"""The customer's bot as the provisioning saga sees it: who makes it (a `BotMaker`: the creator-account
pool through @BotFather, services.provisioning.pool_bot_maker, or Telegram's managed bots through the
Bot API, services.provisioning.managed_bot_maker), what it made (`CreatedBot`), and the usernames the
pool tries."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from models import Order
from services.accounts.created_bot import CreatedBot
from services.orders.ordering import usernames_held_elsewhere

__all__ = ["BotMaker", "CreatedBot", "UsernameCallback", "unconfirmed_bot_is_ours", "username_candidates"]

log = logging.getLogger("meetmatt.provisioning")

UsernameCallback = Callable[[int, str], Awaitable[None]]  # (creator account id, username)


class BotMaker(Protocol):
    """Makes the customer's bot for an order, and answers for the bots it made."""

    async def create(
        self, order: Order, on_username_chosen: UsernameCallback, on_created: UsernameCallback
    ) -> CreatedBot:
        """Make the order's bot. `on_username_chosen` is awaited before a username is asked for,
        `on_created` right after it was made (so a resumed job knows what it owns)."""
        ...

    async def recover(self, account_id: int, username: str) -> str | None:
        """The token of a bot this maker made before (a resumed job), or None."""
        ...

    async def owns(self, account_id: int, username: str) -> bool:
        """Whether the creator account owns a bot of that username."""
        ...

    async def delete(self, account_id: int | None, username: str) -> bool:
        """Delete a bot this maker made; True if it is gone."""
        ...


def username_candidates(wanted: str | None, order_id: int, count: int = 4) -> list[str]:
    """The customer's choice first, then variants with the order number and random digits."""
    base = (wanted or f"meetmatt_agent_{order_id}_bot").lstrip("@")
    stem = base[:-3].rstrip("_") if base.lower().endswith("bot") else base
    out = [base]
    suffixes = [str(order_id)] + [str(secrets.randbelow(9000) + 1000) for _ in range(count)]
    for suffix in suffixes:
        candidate = f"{stem[: 32 - len(suffix) - 5]}_{suffix}_bot"
        if candidate not in out:
            out.append(candidate)
    return out[: count + 1]


async def unconfirmed_bot_is_ours(maker: BotMaker, order: Order, chosen: dict[str, Any]) -> bool:
    """A username a job asked for, with no "Done!" recorded (the run died first): the job's only if
    no other order or instance holds it and the creator account lists it."""
    username, account_id = chosen["username"], chosen.get("account_id")
    if await usernames_held_elsewhere([username], order.id):
        log.warning(
            "a requested username another order holds is not this job's bot",
            extra={"order_id": order.id, "username": username},
        )
        return False
    return account_id is not None and await maker.owns(account_id, username)
