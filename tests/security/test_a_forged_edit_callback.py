"""Attack: send callback data the bot never offered (an Edit button for a field that does not exist,
built by hand since the data is the client's to send). It gets the normal "this step is over" answer,
never an error, and the order in progress is untouched."""

from __future__ import annotations

from bot import texts
from bot.callbacks import EditCb
from bot.states import OrderForm
from tests.bot.harness import BotHarness, FakeUser
from tests.handlers.test_customer_order import state_of, walk_to_summary


async def test_a_forged_edit_field_gets_the_expired_answer(harness: BotHarness, alice: FakeUser):
    await walk_to_summary(harness, alice)
    calls = await harness.press(alice, EditCb(field="price").pack())

    answers = [c for c in calls if c.name == "AnswerCallbackQuery"]
    assert [a.text for a in answers] == [texts.ORDER_EXPIRED_BUTTON]
    assert [c for c in calls if c.name == "SendMessage"] == []
    assert await state_of(harness, alice) == OrderForm.confirm.state
