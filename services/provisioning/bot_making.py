"""The customer's bot as the provisioning saga sees it: who makes it (`BotMaker`: the creator-account
pool or Telegram's managed bots), what it made (`CreatedBot`), and the usernames it tries."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from models import Order

# a job parked for the creator pool carries this reason (Job.last_error), so it can be woken early
POOL_WAIT_REASON = "no creator account is free"


class PoolWait(Exception):  # noqa: N818 - a signal: no creator account can serve right now
    def __init__(self, retry_at) -> None:
        super().__init__(f"{POOL_WAIT_REASON} until {retry_at.isoformat()}")
        self.retry_at = retry_at


@dataclass
class CreatedBot:
    username: str
    token: str
    account_id: int | None


class BotMaker:
    """Creates the customer's bot: the creator-account pool, or Telegram's managed bots."""

    async def create(
        self,
        order: Order,
        candidates: list[str],
        on_username_chosen: Callable[[int, str], Awaitable[None]],
        on_created: Callable[[int, str], Awaitable[None]] | None = None,
    ) -> CreatedBot:
        raise NotImplementedError

    async def recover(self, account_id: int, username: str) -> str | None:
        raise NotImplementedError

    async def owns(self, account_id: int, username: str) -> bool:
        """Whether the creator account owns a bot of that username (BotFather's /mybots)."""
        raise NotImplementedError

    async def delete(self, account_id: int | None, username: str) -> bool:
        raise NotImplementedError


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
