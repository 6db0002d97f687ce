"""The managed-bot token step against the Bot API stand-in (a real aiohttp server, the real aiogram
client): the bot attached after the job loaded its order is found, its token fetched, and access
restricted to its owner."""

from __future__ import annotations

import pytest

from models import Customer, Order, OrderStatus
from services.jobs.worker import PermanentError
from services.orders.ordering import attach_managed_bot, managed_bot_of
from services.provisioning.managed_bot_maker import ManagedBotMaker
from tests.standins.bot_api_server import BotApiStandIn
from tests.standins.stack import bot_token_shaped

OWNER, BOT_ID = 820_001, 7_000_042


@pytest.fixture
async def api():
    async with BotApiStandIn() as stand_in:
        yield stand_in


async def managed_order() -> Order:
    customer = await Customer.create(telegram_id=OWNER)
    return await Order.create(
        customer=customer, package="starter", bot_name="Tom", creation_mode="managed", status=OrderStatus.PAID
    )


async def test_a_bot_attached_after_the_job_loaded_the_order_is_used(db, api):
    order = await managed_order()  # the provision job holds this copy: no bot yet
    assert await managed_bot_of(order.id) is None
    await attach_managed_bot(OWNER, BOT_ID, "tom_managed_bot")  # the managed_bot update arrives
    manager, bot_token = bot_token_shaped(), bot_token_shaped()
    api.managed_tokens[BOT_ID] = bot_token
    bot_api = api.client()
    try:
        created = await ManagedBotMaker(bot_api, manager).create(order)
    finally:
        await bot_api.close()

    assert (created.username, created.token, created.account_id) == ("tom_managed_bot", bot_token, None)
    [restricted] = api.calls_of("setManagedBotAccessSettings")
    assert restricted.token == manager and int(restricted.params["user_id"]) == BOT_ID
    assert str(restricted.params["is_access_restricted"]).lower() == "true"


async def test_an_order_without_a_managed_bot_fails_plainly(db, api):
    order = await managed_order()
    bot_api = api.client()
    try:
        with pytest.raises(PermanentError, match=f"order {order.id} has no managed bot attached"):
            await ManagedBotMaker(bot_api, bot_token_shaped()).create(order)
    finally:
        await bot_api.close()
    assert api.calls == []
