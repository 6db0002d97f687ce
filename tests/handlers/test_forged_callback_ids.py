"""Button data is user input: a forged id beyond the database's integer range (PostgreSQL's int4) must
not reach a query (it raised there, and the presser saw "something went wrong"); the press gets the
answer every unmatched button gets."""

from __future__ import annotations

import pytest

from bot import texts
from bot.callbacks import AccountCb, AgentCb, InstanceCb, RenewCb
from tests.bot.harness import BotHarness, FakeUser

HUGE = 99_999_999_999_999


def _answers(calls: list) -> list[str | None]:
    return [c.text for c in calls if c.name == "AnswerCallbackQuery"]


def _forged(prefix: str, *parts: object) -> str:
    return ":".join([prefix, *map(str, parts)])


@pytest.mark.parametrize(
    "data",
    [
        _forged(AgentCb.__prefix__, "show", HUGE, 0),
        _forged(AgentCb.__prefix__, "restart", HUGE, 0),
        _forged(AgentCb.__prefix__, "persona", HUGE, 0),
        _forged(RenewCb.__prefix__, HUGE),
        _forged(AgentCb.__prefix__, "show", 0, 0),
        _forged(RenewCb.__prefix__, -5),
    ],
)
async def test_a_customer_button_with_an_out_of_range_id_is_answered_as_a_stale_button(
    harness: BotHarness, alice: FakeUser, data: str
) -> None:
    await harness.send(alice, "/start")
    calls = await harness.press(alice, data)
    assert _answers(calls) == [texts.ORDER_EXPIRED_BUTTON]
    assert not any(texts.ERROR.split("{")[0] in (c.text or "") for c in calls if hasattr(c.method, "text"))


@pytest.mark.parametrize(
    "data",
    [
        _forged(AccountCb.__prefix__, "show", HUGE),
        _forged(AccountCb.__prefix__, "enable", HUGE),
        _forged(InstanceCb.__prefix__, "show", HUGE),
        _forged(InstanceCb.__prefix__, "restart", HUGE),
    ],
)
async def test_an_admin_button_with_an_out_of_range_id_is_answered_as_a_stale_button(
    harness: BotHarness, admin: FakeUser, data: str
) -> None:
    calls = await harness.press(admin, data)
    assert _answers(calls) == [texts.ORDER_EXPIRED_BUTTON]


def test_a_real_id_still_packs_and_unpacks() -> None:
    data = AgentCb(action="show", instance_id=2**31 - 1, page=2).pack()
    assert AgentCb.unpack(data) == AgentCb(action="show", instance_id=2**31 - 1, page=2)
