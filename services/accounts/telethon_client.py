"""The real Telethon client for a creator account (the pool's ClientFactory; tests hand the pool
the scripted BotFather's clients instead)."""

from __future__ import annotations

from typing import Any

from models import TelegramAccount


def telethon_client_factory(account: TelegramAccount) -> Any:
    """The real ClientFactory: a Telethon client on the account's StringSession."""
    from telethon import TelegramClient
    from telethon.sessions import StringSession

    # flood_sleep_threshold=0: never sleep inside Telethon holding the account; the pool records the
    # wait as a cooldown and fails over instead
    return TelegramClient(
        StringSession(account.session or ""),
        account.api_id,
        account.api_hash,
        flood_sleep_threshold=0,
        request_retries=2,
        connection_retries=2,
    )
