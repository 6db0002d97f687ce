"""One way to make a customer's bot as the saga sees it: the BotMaker protocol, with exactly two
implementations (the creator-account pool through @BotFather, Telegram's managed bots through the
Bot API), both yielding the one CreatedBot record."""

from __future__ import annotations

import inspect
import typing

from services.accounts.created_bot import CreatedBot
from services.provisioning.bot_making import BotMaker
from services.provisioning.managed_bot_maker import ManagedBotMaker
from services.provisioning.pool_bot_maker import PoolBotMaker
from services.provisioning.saga_deps import SagaDeps

METHODS = ("create", "recover", "owns", "delete")


def test_both_makers_implement_every_botmaker_method_with_its_parameters() -> None:
    for maker in (PoolBotMaker, ManagedBotMaker):
        for name in METHODS:
            wanted = list(inspect.signature(getattr(BotMaker, name)).parameters)
            assert list(inspect.signature(getattr(maker, name)).parameters) == wanted, (maker, name)
            assert inspect.iscoroutinefunction(getattr(maker, name))


def test_both_makers_return_the_one_created_bot_record() -> None:
    for maker in (PoolBotMaker, ManagedBotMaker):
        hints = typing.get_type_hints(maker.create)
        assert hints["return"] is CreatedBot


def test_the_saga_takes_a_pool_maker_and_an_optional_managed_maker() -> None:
    hints = typing.get_type_hints(SagaDeps)
    assert hints["bot_maker"] is BotMaker
    assert hints["managed_bot_maker"] == BotMaker | None
