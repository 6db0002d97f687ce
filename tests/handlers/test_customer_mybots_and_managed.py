"""/mybots, /renew and managed bots (BOT_CREATION_MODE managed/auto) through Dispatcher.feed_update."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.types import ManagedBotCreated, ManagedBotUpdated, Update, User

from bot import texts
from bot.callbacks import MenuCb, OrderCb, PackageCb, RenewCb
from bot.factory import create_dispatcher
from bot.states import OrderForm
from handlers import get_routers
from models import Customer, Instance, InstanceStatus, Order, OrderStatus
from services.jobs.queue import JobQueue, utcnow
from tests.bot.fixtures import make_settings
from tests.bot.harness import BotHarness, FakeUser, joined, last_sent


async def agent(
    owner: FakeUser, username: str, status: InstanceStatus = InstanceStatus.ACTIVE, package: str = "pro"
) -> Instance:
    customer, _ = await Customer.get_or_create(telegram_id=owner.id, defaults={"full_name": owner.first_name})
    order = await Order.create(
        customer=customer,
        package=package,
        bot_name=username.title(),
        bot_username=username,
        status=OrderStatus.ACTIVE,
    )
    return await Instance.create(
        order=order,
        customer=customer,
        status=status,
        bot_username=username,
        expires_at=utcnow() + timedelta(days=12),
    )


async def test_mybots_with_nothing_points_to_new(harness: BotHarness, alice: FakeUser) -> None:
    calls = await harness.send(alice, "/mybots")
    assert texts.NO_BOTS in joined(calls) and texts.BTN_ORDER in last_sent(calls).markup_texts


async def test_mybots_lists_agents_with_status_expiry_link_and_renew(
    harness: BotHarness, alice: FakeUser
) -> None:
    live = await agent(alice, "alice_one_bot")
    await agent(alice, "alice_old_bot", InstanceStatus.TERMINATED)
    await agent(FakeUser(id=1), "not_hers_bot")
    customer = await Customer.get(telegram_id=alice.id)
    await Order.create(
        customer=customer,
        package="starter",
        bot_name="<Pending>",
        checkout_url="https://pay.example/x",
        amount=2900,
    )
    calls = await harness.press(alice, MenuCb(action="mybots").pack())
    text = joined(calls)
    assert "@alice_one_bot" in text and "live" in text and live.expires_at.strftime("%Y-%m-%d") in text
    assert "alice_old_bot" not in text and "not_hers_bot" not in text
    assert "<b>&lt;Pending&gt;</b>, waiting for payment" in text
    agent_msg = next(c for c in calls if "@alice_one_bot" in (c.text or ""))
    assert agent_msg.button("Open @alice_one_bot").url == "https://t.me/alice_one_bot"
    assert agent_msg.button("Renew").callback_data == RenewCb(instance_id=live.id).pack()
    pending = next(c for c in calls if "Pending" in (c.text or ""))
    assert pending.button("Pay").url == "https://pay.example/x"


async def test_renew_with_one_agent_goes_straight_to_checkout(
    harness: BotHarness, alice: FakeUser, stripe_api
) -> None:
    live = await agent(alice, "alice_one_bot", package="pro")
    calls = await harness.send(alice, "/renew")
    renewal = await Order.get(renews_id=live.id)
    assert renewal.status == OrderStatus.AWAITING_PAYMENT and renewal.package == "pro"
    assert renewal.bot_username == "alice_one_bot"
    pay = last_sent(calls)
    assert "Renewal" in pay.text and "@alice_one_bot" in pay.text and "30 days" in pay.text
    assert pay.button("Pay").url == renewal.checkout_url and renewal.checkout_url.startswith(
        stripe_api.base_url
    )
    form = stripe_api.requests_to("/v1/checkout/sessions")[-1].form
    assert form["line_items[0][price_data][product_data][name]"].startswith("Renewal")
    await harness.send(alice, "/renew")  # a second /renew reuses the unpaid renewal
    assert await Order.filter(renews_id=live.id).count() == 1 and len(stripe_api.sessions) == 1


async def test_renew_with_several_agents_asks_which(harness: BotHarness, alice: FakeUser) -> None:
    one = await agent(alice, "alice_one_bot")
    two = await agent(alice, "alice_two_bot", InstanceStatus.STOPPED)
    calls = await harness.send(alice, "/renew")
    assert texts.CHOOSE_RENEW in joined(calls)
    assert len(last_sent(calls).markup_texts) == 2
    await harness.press(alice, RenewCb(instance_id=two.id).pack())
    assert (
        await Order.filter(renews_id=two.id).count() == 1
        and await Order.filter(renews_id=one.id).count() == 0
    )


async def test_renew_refuses_someone_elses_or_a_terminated_agent(
    harness: BotHarness, alice: FakeUser
) -> None:
    theirs = await agent(FakeUser(id=2), "theirs_bot")
    gone = await agent(alice, "gone_bot", InstanceStatus.TERMINATED)
    assert texts.NO_RENEWABLE in joined(await harness.send(alice, "/renew"))
    for target in (theirs, gone):
        calls = await harness.press(alice, RenewCb(instance_id=target.id).pack())
        assert "cannot be renewed" in joined(calls)
    assert await Order.filter(renews_id__not_isnull=True).count() == 0


async def test_checkout_failure_keeps_the_renewal_and_gives_a_reference(
    harness: BotHarness, alice: FakeUser, stripe_api
) -> None:
    await agent(alice, "alice_one_bot")
    stripe_api.fail_next(500, times=1)
    assert "couldn't create the payment link" in joined(await harness.send(alice, "/renew"))
    assert "Renewal" in joined(await harness.send(alice, "/renew"))


# --- managed bots ---------------------------------------------------------------------------------------


@pytest.fixture
def managed(db: str, stripe_api, payments) -> BotHarness:
    settings = make_settings(stripe_api_base=stripe_api.base_url, bot_creation_mode="managed")
    return BotHarness.build(
        settings, create_dispatcher(settings, get_routers(settings), payments=payments, queue=JobQueue())
    )


async def state_of(h: BotHarness, user: FakeUser) -> str | None:
    from aiogram.fsm.storage.base import StorageKey

    return await h.dp.storage.get_state(StorageKey(bot_id=h.bot.id, chat_id=user.id, user_id=user.id))


NEW_BOT = User(id=7_000_001, is_bot=True, first_name="Tom", username="tom_managed_bot")


async def test_managed_mode_offers_the_request_managed_bot_button(
    managed: BotHarness, alice: FakeUser
) -> None:
    await managed.send(alice, "/new")
    await managed.press(alice, PackageCb(code="starter").pack())
    calls = await managed.send(alice, "Tom Helper")
    request = next(c for c in calls if texts.BTN_MANAGED in c.markup_texts)
    button = request.button(texts.BTN_MANAGED)
    assert button.request_managed_bot.suggested_name == "Tom Helper"
    assert button.request_managed_bot.suggested_username == "tom_helper_bot"
    assert any(
        c.button("Use").callback_data == OrderCb(action="suggest").pack()
        for c in calls
        if "Use" in " ".join(c.markup_texts)
    )


async def test_managed_bot_created_message_attaches_the_bot_and_the_order_records_it(
    managed: BotHarness, alice: FakeUser
) -> None:
    await managed.send(alice, "/new")
    await managed.press(alice, PackageCb(code="starter").pack())
    await managed.send(alice, "Tom Helper")
    calls = await managed.send(alice, None, managed_bot_created=ManagedBotCreated(bot_user=NEW_BOT))
    assert "Telegram created @tom_managed_bot" in joined(calls)
    assert await state_of(managed, alice) == OrderForm.confirm.state  # straight to the summary
    # the managed_bot update for the same bot arrives too: nothing happens twice
    again = await managed.feed(
        Update(update_id=9_999, managed_bot=ManagedBotUpdated(user=alice.as_user(), bot_user=NEW_BOT))
    )
    assert again == []
    assert "@tom_managed_bot (created by Telegram)" in joined(calls)
    await managed.press(alice, OrderCb(action="edit").pack())
    edit_menu = [c for c in managed.session.calls if c.name == "EditMessageText"][-1]
    assert "Username" not in edit_menu.markup_texts  # Telegram's bot keeps its username
    await managed.press(alice, OrderCb(action="back").pack())
    await managed.press(alice, OrderCb(action="confirm").pack())
    order = await Order.get()
    assert (order.creation_mode, order.bot_username, order.managed_bot_id) == (
        "managed",
        "tom_managed_bot",
        NEW_BOT.id,
    )


async def test_managed_bot_update_alone_moves_the_dialogue_on(managed: BotHarness, alice: FakeUser) -> None:
    await managed.send(alice, "/new")
    await managed.press(alice, PackageCb(code="starter").pack())
    await managed.send(alice, "Tom Helper")
    calls = await managed.feed(
        Update(update_id=9_998, managed_bot=ManagedBotUpdated(user=alice.as_user(), bot_user=NEW_BOT))
    )
    assert "Telegram created @tom_managed_bot" in joined(calls) and "Is everything right?" in joined(calls)
    assert "@tom_managed_bot (created by Telegram)" in joined(calls)
    assert await state_of(managed, alice) == OrderForm.confirm.state


async def test_managed_bot_update_after_confirm_attaches_to_the_open_order(
    managed: BotHarness, alice: FakeUser
) -> None:
    customer = await Customer.create(telegram_id=alice.id, full_name="Alice")
    order = await Order.create(customer=customer, package="starter", bot_name="Tom", creation_mode="managed")
    calls = await managed.feed(
        Update(update_id=9_997, managed_bot=ManagedBotUpdated(user=alice.as_user(), bot_user=NEW_BOT))
    )
    order = await Order.get(id=order.id)
    assert (order.bot_username, order.managed_bot_id) == ("tom_managed_bot", NEW_BOT.id)
    assert "Telegram created" in joined(calls)


async def test_managed_bot_update_without_any_order_changes_nothing(
    managed: BotHarness, alice: FakeUser
) -> None:
    calls = await managed.feed(
        Update(update_id=9_996, managed_bot=ManagedBotUpdated(user=alice.as_user(), bot_user=NEW_BOT))
    )
    assert calls == [] and await Order.all().count() == 0


async def test_pool_mode_shows_no_managed_button(harness: BotHarness, alice: FakeUser) -> None:
    await harness.send(alice, "/new")
    await harness.press(alice, PackageCb(code="starter").pack())
    calls = await harness.send(alice, "Tom Helper")
    assert all(texts.BTN_MANAGED not in c.markup_texts for c in calls)


async def test_typing_a_username_in_managed_mode_takes_the_telegram_button_away(
    managed: BotHarness, alice: FakeUser
) -> None:
    from aiogram.types import ReplyKeyboardRemove

    await managed.send(alice, "/new")
    await managed.press(alice, PackageCb(code="starter").pack())
    await managed.send(alice, "Tom Helper")
    calls = await managed.send(alice, "tom_typed_bot")
    assert any(isinstance(getattr(c.method, "reply_markup", None), ReplyKeyboardRemove) for c in calls)
    assert await state_of(managed, alice) == OrderForm.confirm.state


async def test_taking_the_suggested_username_in_managed_mode_takes_the_telegram_button_away(
    managed: BotHarness, alice: FakeUser
) -> None:
    from aiogram.types import ReplyKeyboardRemove

    await managed.send(alice, "/new")
    await managed.press(alice, PackageCb(code="starter").pack())
    await managed.send(alice, "Tom Helper")
    calls = await managed.press(alice, OrderCb(action="suggest").pack())
    [removed] = [c for c in calls if isinstance(getattr(c.method, "reply_markup", None), ReplyKeyboardRemove)]
    assert "@tom_helper_bot" in removed.text
    assert await state_of(managed, alice) == OrderForm.confirm.state
    assert last_sent(calls) is not removed  # the next step comes after the note, not above it


async def test_mybots_offers_the_open_verification_link_again(harness: BotHarness, alice: FakeUser) -> None:
    from models import Verification

    booting = await agent(alice, "alice_new_bot", InstanceStatus.READY)
    await Order.filter(id=booting.order_id).update(status=OrderStatus.AWAITING_VERIFICATION)
    await Verification.create(instance=booting, code="Code_123-abc", expires_at=utcnow() + timedelta(hours=1))
    calls = await harness.send(alice, "/mybots")
    message = next(c for c in calls if "@alice_new_bot" in (c.text or ""))
    assert "press <b>Start</b>" in message.text
    assert message.button("press Start").url == "https://t.me/alice_new_bot?start=Code_123-abc"

    await Verification.filter(instance_id=booting.id).update(verified_at=utcnow())
    calls = await harness.send(alice, "/mybots")
    message = next(c for c in calls if "@alice_new_bot" in (c.text or ""))
    assert "press" not in message.text
    assert message.button("Open @alice_new_bot").url == "https://t.me/alice_new_bot"


async def test_mybots_shows_this_months_model_use_against_the_plans_allowance(
    harness: BotHarness, alice: FakeUser
) -> None:
    from services.model_gateway.usage import Tokens, record_usage

    live = await agent(alice, "alice_busy_bot", package="starter")
    await record_usage(live.id, utcnow().date(), Tokens(4_000_000, 1_000_000, 0))
    await record_usage(live.id, utcnow().date() - timedelta(days=40), Tokens(9_000_000, 0, 0))  # last month
    text = joined(await harness.send(alice, "/mybots"))
    assert "Model use this month: 5.0M of 20.0M tokens (25%)" in text


async def test_the_over_quota_messages_renew_link_opens_checkout_for_that_agent_only(
    harness: BotHarness, alice: FakeUser, stripe_api
) -> None:
    mine = await agent(alice, "alice_one_bot", package="starter")
    theirs = await agent(FakeUser(id=3), "theirs_bot")
    pay = last_sent(await harness.send(alice, f"/start renew-{mine.id}"))
    renewal = await Order.get(renews_id=mine.id)
    assert "Renewal" in pay.text and pay.button("Pay").url == renewal.checkout_url
    assert "cannot be renewed" in joined(await harness.send(alice, f"/start renew-{theirs.id}"))
    assert await Order.filter(renews_id=theirs.id).count() == 0
    assert texts.BTN_ORDER in last_sent(await harness.send(alice, "/start renew-x")).markup_texts
