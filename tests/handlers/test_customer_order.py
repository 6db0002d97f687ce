"""The /new order dialogue through Dispatcher.feed_update: every step, every validation rule, Confirm,
Edit and Cancel, with the real PaymentsService against the local Stripe stand-in."""

from __future__ import annotations

import pytest
from aiogram.types import PhotoSize

from bot import texts
from bot.callbacks import EditCb, MenuCb, OrderCb, PackageCb
from bot.states import OrderForm
from models import Customer, Order, OrderStatus
from services.payments.packages import DEFAULT_PACKAGES
from tests.bot.harness import BotHarness, FakeUser, button_data, joined, last_sent


async def state_of(h: BotHarness, user: FakeUser) -> str | None:
    from aiogram.fsm.storage.base import StorageKey

    key = StorageKey(bot_id=h.bot.id, chat_id=user.id, user_id=user.id)
    return await h.dp.storage.get_state(key)


async def walk_to_summary(
    h: BotHarness,
    user: FakeUser,
    *,
    name: str = "Tom's Helper",
    username: str = "tom_helper_bot",
    description: str = "Helps Tom",
) -> None:
    await h.send(user, "/new")
    await h.press(user, PackageCb(code="starter").pack())
    await h.send(user, name)
    await h.send(user, username)
    await h.send(user, description)
    await h.press(user, OrderCb(action="skip").pack())
    assert await state_of(h, user) == OrderForm.confirm.state


async def test_start_greets_with_packages_and_menu_and_creates_the_customer(
    harness: BotHarness, alice: FakeUser
) -> None:
    calls = await harness.send(alice, "/start")
    reply = last_sent(calls)
    assert "Hi Alice" in reply.text and "Starter" in reply.text and "$29.00" in reply.text
    assert texts.BTN_ORDER in reply.markup_texts
    customer = await Customer.get(telegram_id=alice.id)
    assert customer.username == "alice" and customer.full_name == "Alice"


async def test_start_with_a_payload_is_a_plain_welcome_or_a_payment_return(
    harness: BotHarness, alice: FakeUser
) -> None:
    assert "Hi Alice" in joined(await harness.send(alice, "/start ref_friend"))
    assert texts.PAID_RETURN in joined(await harness.send(alice, "/start paid_12"))
    assert texts.CANCEL_RETURN in joined(await harness.send(alice, "/start cancel_12"))


async def test_help_command_and_button_explain_the_steps(harness: BotHarness, alice: FakeUser) -> None:
    assert "How it works" in joined(await harness.send(alice, "/help"))
    assert "How it works" in joined(await harness.press(alice, MenuCb(action="help").pack()))


async def test_full_dialogue_creates_an_order_and_sends_a_real_checkout_url(
    harness: BotHarness, alice: FakeUser, stripe_api
) -> None:
    calls = await harness.press(alice, MenuCb(action="new").pack())
    assert texts.ASK_PACKAGE in joined(calls)
    calls = await harness.press(alice, PackageCb(code="pro").pack())
    assert "display name" in joined(calls)
    calls = await harness.send(alice, "Tom's Helper")
    prompt = last_sent(calls)
    assert "tom_s_helper_bot" in prompt.text  # the free suggestion
    calls = await harness.press(alice, OrderCb(action="suggest").pack())
    assert "Is everything right?" in joined(calls)  # username -> summary: description and photo optional
    await harness.press(alice, OrderCb(action="edit").pack())
    await harness.press(alice, EditCb(field="description").pack())
    calls = await harness.send(alice, "Plans my <b>week</b>")
    assert "Is everything right?" in joined(calls)
    await harness.press(alice, OrderCb(action="edit").pack())
    await harness.press(alice, EditCb(field="avatar").pack())
    photo = [
        PhotoSize(file_id="small", file_unique_id="s", width=90, height=90),
        PhotoSize(file_id="big-photo", file_unique_id="b", width=640, height=640, file_size=50_000),
    ]
    calls = await harness.send(alice, None, photo=photo)
    summary = last_sent(calls)
    assert "Tom's Helper" in summary.text and "@tom_s_helper_bot" in summary.text
    assert "Plans my &lt;b&gt;week&lt;/b&gt;" in summary.text  # typed HTML is shown, escaped
    assert "Pro" in summary.text and "photo received" in summary.text

    calls = await harness.press(alice, OrderCb(action="confirm").pack())
    order = await Order.get()
    assert order.status == OrderStatus.AWAITING_PAYMENT and order.package == "pro"
    assert (order.bot_name, order.bot_username) == ("Tom's Helper", "tom_s_helper_bot")
    assert order.description == "Plans my <b>week</b>" and order.avatar_file_id == "big-photo"
    assert order.creation_mode == "pool" and order.amount == 7900
    pay = last_sent(calls)
    url = pay.button("Pay").url
    assert url == order.checkout_url and url.startswith(stripe_api.base_url)
    assert order.stripe_session_id in stripe_api.sessions
    assert stripe_api.requests_to("/v1/checkout/sessions")[-1].form["metadata[order_id]"] == str(order.id)
    assert await state_of(harness, alice) is None


async def test_confirm_pressed_twice_makes_one_order_and_one_session(
    harness: BotHarness, alice: FakeUser, stripe_api
) -> None:
    await walk_to_summary(harness, alice)
    stripe_api.fail_next(500, times=1)
    calls = await harness.press(alice, OrderCb(action="confirm").pack())
    assert "couldn't create the payment link" in joined(calls)
    assert await state_of(harness, alice) == OrderForm.confirm.state  # the customer can retry
    calls = await harness.press(alice, OrderCb(action="confirm").pack())
    assert last_sent(calls).button("Pay").url.startswith(stripe_api.base_url)
    assert await Order.all().count() == 1
    assert len(stripe_api.sessions) == 1


async def test_edit_returns_to_the_summary_with_the_new_value(harness: BotHarness, alice: FakeUser) -> None:
    await walk_to_summary(harness, alice)
    calls = await harness.press(alice, OrderCb(action="edit").pack())
    assert {"Package", "Name", "Username", "Description", "Picture"} <= set(last_sent(calls).markup_texts)
    await harness.press(alice, EditCb(field="name").pack())
    calls = await harness.send(alice, "Better Name")
    assert "Better Name" in last_sent(calls).text and "Is everything right?" in last_sent(calls).text
    await harness.press(alice, OrderCb(action="edit").pack())
    await harness.press(alice, EditCb(field="package").pack())
    calls = await harness.press(alice, PackageCb(code="annual").pack())
    assert "Starter, 1 year" in last_sent(calls).text
    await harness.press(alice, OrderCb(action="edit").pack())
    await harness.press(alice, EditCb(field="username").pack())
    calls = await harness.send(alice, "better_name_bot")
    assert "@better_name_bot" in last_sent(calls).text
    await harness.press(alice, OrderCb(action="edit").pack())
    await harness.press(alice, EditCb(field="description").pack())
    calls = await harness.press(alice, OrderCb(action="skip").pack())
    assert "Description: —" in last_sent(calls).text
    await harness.press(alice, OrderCb(action="edit").pack())
    calls = await harness.press(alice, OrderCb(action="back").pack())
    assert "Is everything right?" in last_sent(calls).text


@pytest.mark.parametrize("how", ["command", "button"])
async def test_cancel_at_any_step_clears_the_dialogue_and_orders_nothing(
    harness: BotHarness, alice: FakeUser, how: str
) -> None:
    await harness.send(alice, "/new")
    await harness.press(alice, PackageCb(code="starter").pack())
    await harness.send(alice, "Tom")
    if how == "command":
        calls = await harness.send(alice, "/cancel")
    else:
        calls = await harness.press(alice, OrderCb(action="cancel").pack())
    assert texts.CANCELLED in joined(calls)
    assert await state_of(harness, alice) is None
    assert await Order.all().count() == 0
    assert texts.NOTHING_TO_CANCEL in joined(await harness.send(alice, "/cancel"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", None),  # an empty text message cannot exist; covered by the validator's own tests
        ("x" * 65, "the limit is 64"),
        ("Evil\u202eName", "U+202E"),
        ("Zero\u200bWidth", "U+200B"),
        ("Bell\x07", "U+0007"),
    ],
)
async def test_name_step_refuses_with_a_specific_reason(
    harness: BotHarness, alice: FakeUser, text: str, reason: str | None
) -> None:
    if not text:
        return
    await harness.send(alice, "/new")
    await harness.press(alice, PackageCb(code="starter").pack())
    calls = await harness.send(alice, text)
    assert reason in joined(calls)
    assert await state_of(harness, alice) == OrderForm.name.state


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("abc", "at least 5"),
        ("a" * 30 + "_bot", "the limit is 32"),
        ("1tom_bot", "start with a letter"),
        ("tom_helper", "end with “bot”"),
        ("tom-helper_bot", "'-'"),
        ("томbot_bot", "Latin letters"),
    ],
)
async def test_username_step_refuses_with_a_specific_reason(
    harness: BotHarness, alice: FakeUser, text: str, reason: str
) -> None:
    await harness.send(alice, "/new")
    await harness.press(alice, PackageCb(code="starter").pack())
    await harness.send(alice, "Tom")
    calls = await harness.send(alice, text)
    assert texts.esc(reason) in joined(calls)
    assert await state_of(harness, alice) == OrderForm.username.state


async def test_description_over_512_and_photo_rules_are_refused(harness: BotHarness, alice: FakeUser) -> None:
    await harness.send(alice, "/new")
    await harness.press(alice, PackageCb(code="starter").pack())
    await harness.send(alice, "Tom")
    await harness.send(alice, "tom_helper_bot")
    await harness.press(alice, OrderCb(action="edit").pack())
    await harness.press(alice, EditCb(field="description").pack())
    assert "the limit is 512" in joined(await harness.send(alice, "d" * 513))
    await harness.send(alice, "fine")
    await harness.press(alice, OrderCb(action="edit").pack())
    await harness.press(alice, EditCb(field="avatar").pack())
    tiny = [PhotoSize(file_id="t", file_unique_id="t", width=64, height=64)]
    assert "at least 150×150" in joined(await harness.send(alice, None, photo=tiny))
    huge = [PhotoSize(file_id="h", file_unique_id="h", width=2000, height=2000, file_size=9 * 1024 * 1024)]
    assert "the limit is 5 MB" in joined(await harness.send(alice, None, photo=huge))
    assert "as a <b>photo</b>" in joined(await harness.send(alice, "not a photo"))
    assert await state_of(harness, alice) == OrderForm.avatar.state


async def test_non_text_in_a_text_step_and_typed_package_are_answered(
    harness: BotHarness, alice: FakeUser
) -> None:
    await harness.send(alice, "/new")
    assert texts.ASK_PACKAGE in joined(await harness.send(alice, "the cheap one"))
    await harness.press(alice, PackageCb(code="starter").pack())
    photo = [PhotoSize(file_id="p", file_unique_id="p", width=500, height=500)]
    assert texts.NEED_TEXT in joined(await harness.send(alice, None, photo=photo))


async def test_unknown_package_and_stale_buttons_are_answered_not_crashed(
    harness: BotHarness, alice: FakeUser
) -> None:
    await harness.send(alice, "/new")
    calls = await harness.press(alice, PackageCb(code="nope").pack())
    assert any("no longer offered" in (c.text or "") for c in calls if c.name == "AnswerCallbackQuery")
    await harness.send(alice, "/cancel")
    calls = await harness.press(alice, OrderCb(action="confirm").pack())
    assert [c.text for c in calls if c.name == "AnswerCallbackQuery"] == [texts.ORDER_EXPIRED_BUTTON]


async def test_commands_typed_mid_dialogue_are_not_taken_as_answers(
    harness: BotHarness, alice: FakeUser
) -> None:
    await harness.send(alice, "/new")
    await harness.press(alice, PackageCb(code="starter").pack())
    calls = await harness.send(alice, "/accounts")
    assert texts.UNKNOWN in joined(calls)
    assert await state_of(harness, alice) == OrderForm.name.state
    assert "How it works" in joined(await harness.send(alice, "/help"))


async def test_suggestion_button_offers_a_free_username(harness: BotHarness, alice: FakeUser) -> None:
    bob = FakeUser(id=500_002, first_name="Bob")
    await walk_to_summary(harness, bob, name="Tom Helper", username="tom_helper_bot")
    await harness.press(bob, OrderCb(action="confirm").pack())
    await harness.send(alice, "/new")
    await harness.press(alice, PackageCb(code="starter").pack())
    calls = await harness.send(alice, "Tom Helper")
    suggestion = button_data(last_sent(calls), "Use")
    assert suggestion == OrderCb(action="suggest").pack()
    text = last_sent(calls).text
    assert "tom_helper_bot</code>" not in text and "tom_helper_" in text  # taken: a number is added


async def test_an_edit_after_a_failed_confirm_reaches_the_order(
    harness: BotHarness, alice: FakeUser, stripe_api
) -> None:
    await walk_to_summary(harness, alice, name="Old Name")
    stripe_api.fail_next(500, times=1)
    await harness.press(alice, OrderCb(action="confirm").pack())
    await harness.press(alice, OrderCb(action="edit").pack())
    await harness.press(alice, EditCb(field="name").pack())
    await harness.send(alice, "New Name")
    calls = await harness.press(alice, OrderCb(action="confirm").pack())
    assert last_sent(calls).button("Pay").url.startswith(stripe_api.base_url)
    order = await Order.get()
    assert order.bot_name == "New Name" and await Order.all().count() == 1
    assert stripe_api.sessions[order.stripe_session_id]["metadata"]["botName"] == "New Name"


async def test_a_package_change_after_a_failed_confirm_changes_the_price_too(
    harness: BotHarness, alice: FakeUser, stripe_api
) -> None:
    await walk_to_summary(harness, alice)
    stripe_api.fail_next(500, times=1)
    await harness.press(alice, OrderCb(action="confirm").pack())
    await harness.press(alice, OrderCb(action="edit").pack())
    await harness.press(alice, EditCb(field="package").pack())
    await harness.press(alice, PackageCb(code="pro").pack())
    await harness.press(alice, OrderCb(action="confirm").pack())
    order = await Order.get()
    pro = next(p for p in DEFAULT_PACKAGES if p.code == "pro")
    assert (order.package, order.amount, order.currency) == ("pro", pro.price, pro.currency)
    assert await Order.all().count() == 1
