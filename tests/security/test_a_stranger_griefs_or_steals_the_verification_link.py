"""Attack: someone who is not the customer (a stranger who found the new bot, or was forwarded the
deep link) sends bare /start, wrong codes, another order's code, or the right code, to kill the order
by spending its attempts or to become the agent's owner. Through every stand-in at once (moto, the
SSH instance, the scripted BotFather, telegram-test-api), SQLite and PostgreSQL."""

from __future__ import annotations

from cli.run import running
from models import Instance, Order, OrderStatus, Verification
from tests.e2e.test_provisioning_failures import deep_link, place_order
from tests.standins.stack import wait_until

OWNER, STRANGER, THIEF = 930_007, 930_099, 930_098


async def test_five_wrong_or_empty_codes_from_a_stranger_then_the_owners_tap_goes_live(make_stack):
    async with make_stack() as stack:
        await stack.add_creator_accounts()
        customer = stack.customer(OWNER, "Fay")
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            order = await place_order(app, OWNER, "Fay's Agent", "fay_agent_bot")
            assert await stack.pay(order, app.web_port) == 200
            _, code = await deep_link(customer)
            instance = await Instance.get(order_id=order.id)
            stranger = stack.on_bot(instance.bot_token or "", STRANGER, "Mallory")
            thief = stack.on_bot(instance.bot_token or "", THIEF, "Trudy")  # was forwarded the link
            owner = stack.on_bot(instance.bot_token or "", OWNER, "Fay")
            try:
                for text in (
                    "/start",
                    "/start",
                    "/start wrong1",
                    "/start wrong2",
                    "/start wrong3",
                    "/start wrong4",
                    "/start wrong5",
                    "/start wrong6",
                ):
                    await stranger.send(text)
                await stranger.wait_text("Too many wrong attempts from this account", timeout=30)
                await thief.send(f"/start {code}")  # the right code, from the wrong account
                await thief.wait_text("only that account can switch it on", timeout=30)
                assert (await Order.get(id=order.id)).status == OrderStatus.AWAITING_VERIFICATION

                await owner.send(f"/start {code}")
                await owner.wait_text("Verified", timeout=30)
            finally:
                await stranger.close()
                await thief.close()
                await owner.close()

            async def live() -> bool:
                return (await Order.get(id=order.id)).status == OrderStatus.ACTIVE

            await wait_until(live, 60, "the order to go live for its owner")

        live_instance = await Instance.get(id=instance.id)
        assert live_instance.owner_telegram_id == OWNER
        verification = await Verification.get(instance_id=instance.id)
        assert verification.telegram_user_id == OWNER
        assert verification.wrong_by_sender == {str(STRANGER): 5}  # bare /start never counted
        await customer.close()
